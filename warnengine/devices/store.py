"""What the device health stage reads and writes: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from warnengine.model.records import DeviceChange


class DevicesStore(Protocol):
    async def record_device_status(
        self, rows: Sequence[dict[str, Any]]
    ) -> tuple[list[DeviceChange], list[str]]: ...

    async def registered_villages(self, device_ids: Sequence[str]) -> dict[str, str]: ...

    async def record_device_results(self, results: Sequence[tuple[str, str, str | None]]) -> None: ...

    async def sweep_silent_devices(self, silent_for: float) -> list[DeviceChange]: ...

    async def device_health_counts(self) -> dict[str, int]: ...

    async def silent_villages(self) -> int: ...
