"""What the store hands the stages and takes from them: plain data, no behaviour, no database.

The store's parts (warnengine/db/store) build and read these; the stages' store protocols name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from warnengine.model.delivery import Channel
from warnengine.model.warning import HazardWarning


@dataclass(frozen=True)
class VillageTarget:
    """One village's recipients on one channel for one warning version."""

    warning_id: str
    version: int
    village_code: str
    channel: Channel
    recipients: list[str]
    expires_at: float


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: str
    warning_id: str
    version: int
    village_code: str
    recipient: str
    attempts: int
    expires_at: float
    channel: str = Channel.LOUDSPEAKER.value
    text: str | None = None  # people channels: the message, when it is not the warning's own
    sig_alg: str | None = None  # terminals: how to sign its command (devices.sig_alg); None: not known


@dataclass(frozen=True)
class AckTiming:
    """A delivery newly acknowledged as played, for time-to-ack metrics (engine clock throughout)."""

    channel: str
    severity: str
    sent_at: float | None
    accepted_at: float
    played_at: float


class Acknowledged(NamedTuple):  # a tuple: a batch makes thousands
    delivery_id: str
    warning_id: str
    person_id: str | None
    household_id: str | None
    channel: str
    at: float


@dataclass(frozen=True)
class DeviceChange:
    """A terminal whose online state changed; offline ones carry the warnings still open for them."""

    device_id: str
    village_code: str
    online: bool
    reason: str | None  # why offline: will | shutdown | silent | offline
    open_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveVersion:
    warning: HazardWarning
    resolved_at: float
    steps_done: frozenset[int]


@dataclass(frozen=True)
class VisitTask:
    task_id: str
    warning_id: str
    version: int
    village_code: str
    group_code: str
    assignee: str | None
    level: int
    state: str
    households: tuple[tuple[str, bool, str | None], ...]  # (household, vulnerable, outcome)


@dataclass(frozen=True)
class DutyCall:
    """One 叫应 of the duty ladder: `target_id` was called about the silent `person_id`; rung 0 first."""

    person_id: str
    target_id: str
    rung: int
    cell_code: str
    post: str | None  # A | B | deputy; None: nobody on duty, the directory's grid head
    called_at: float
    tries: int = 1  # phone 叫应: calls placed to this target about this person (policy duty_voice_calls)
    last_called_at: float | None = None  # the latest of them (None: only the first)


@dataclass(frozen=True)
class EbMessage:
    """An EBM sent to the county's emergency-broadcast platform: its warning version and village codes."""

    ebm_id: str
    warning_id: str
    version: int
    areas: tuple[str, ...]


@dataclass(frozen=True)
class ReportChain:
    """A warning chain upward reports are due on: its newest version, when it was first released
    (resolved), and whether it is over (cancelled, or its newest version expired)."""

    warning: HazardWarning
    released_at: float
    closed: bool


@dataclass(frozen=True)
class ProgressRows:
    """What a progress report counts, for one warning chain: households (village, state, vulnerable),
    villages whose loudspeaker played, households on an unfinished visit per village, and staff whose
    叫应 is still unanswered with the calls made about them; orgs (village, state, headcount)."""

    households: list[tuple[str, str, bool]]
    played: set[str]
    visits_open: dict[str, int]
    silent_staff: dict[str, int]
    orgs: list[tuple[str, str, int]] = field(default_factory=list)
