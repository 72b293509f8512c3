"""What the normalise stage writes: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from typing import Protocol

from warnengine.model import HazardWarning


class NormaliseStore(Protocol):
    async def save_warning(self, w: HazardWarning) -> str: ...

    async def record_feed(
        self,
        digest: str,
        source: str,
        verdict: str,
        warning_id: str | None = ...,
        version: int | None = ...,
    ) -> bool: ...
