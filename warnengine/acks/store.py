"""What the ack stages (terminal acks, people's receipts, replies and app acks) read and write:
`warnengine.db.store.Store` is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from warnengine.clock import Clock
from warnengine.model import DeliveryState, SpeakerAck
from warnengine.model.evacuation import Shelter
from warnengine.model.field_report import FieldReport
from warnengine.model.records import Acknowledged, AckTiming

CheckIn = Literal["checked_in", "already"]  # as db/store/evacuation.py's


class KeeperCheckIns(Protocol):
    """A shelter keeper's SMS check-in (acks/checkins.py)."""

    async def shelters_kept_by(self, person_ids: list[str]) -> list[Shelter]: ...

    async def evacuation_warning_for(self, household_id: str | None, since: float) -> str | None: ...

    async def check_in(
        self,
        warning_id: str,
        shelter_id: str,
        person_key: str,
        household_id: str | None,
        persons: int,
        who: str,
        now: float,
    ) -> CheckIn: ...

    async def checkin_of(self, warning_id: str, person_key: str) -> tuple[str | None, float] | None: ...


class AcksStore(KeeperCheckIns, Protocol):
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

    async def acknowledge(
        self, answers: Sequence[tuple[str, float]], household_counts: Mapping[str, int] | None = None
    ) -> list[Acknowledged]: ...

    async def record_unapplied(self, items: Sequence[tuple[str, float]]) -> dict[str, int]: ...

    async def open_field_reports(self, reports: Sequence[FieldReport]) -> int: ...

    async def note_orgs(self, notes: Sequence[tuple[str, str]]) -> int: ...

    async def org_deliveries_known(self, ids: Sequence[str]) -> set[str]: ...
