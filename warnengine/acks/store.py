"""What the ack stages (terminal acks, people's receipts, replies and app acks) read and write:
`warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from warnengine.clock import Clock
from warnengine.model import DeliveryState, SpeakerAck
from warnengine.model.field_report import FieldReport
from warnengine.model.records import Acknowledged, AckTiming


class AcksStore(Protocol):
    @property
    def clock(self) -> Clock: ...

    async def apply_acks(
        self,
        acks: list[SpeakerAck],
        played: list[AckTiming] | None = ...,
        mismatched: list[tuple[SpeakerAck, str]] | None = ...,
    ) -> dict[str, int]: ...

    async def dead_letter(
        self, stage: str, reason: str, detail: str, payload: bytes | str, source: str | None, key: str | None
    ) -> int: ...

    async def record_device_results(self, results: Sequence[tuple[str, str, str | None]]) -> None: ...

    async def apply_statuses(
        self, items: Sequence[tuple[str, DeliveryState, float, str | None]]
    ) -> dict[str, int]: ...

    async def deliveries_by_ref(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, str]]: ...

    async def confirm_visits_by(self, person_ids: Sequence[str], at: float) -> int: ...

    async def recent_versions(self, since: float) -> list[tuple[str, int, tuple[int, ...]]]: ...

    async def acknowledge(self, answers: Sequence[tuple[str, float]]) -> list[Acknowledged]: ...

    async def record_unapplied(self, items: Sequence[tuple[str, float]]) -> dict[str, int]: ...

    async def open_field_reports(self, reports: Sequence[FieldReport]) -> int: ...

    async def note_orgs(self, notes: Sequence[tuple[str, str]]) -> int: ...

    async def org_deliveries_known(self, ids: Sequence[str]) -> set[str]: ...
