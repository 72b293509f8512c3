"""Field reports (灾情报送 and requests for help): one inbox, whatever they came from (issue 17).

A report is opened by a visit outcome (needs_help, refused), a vulnerable household whose whereabouts are
unknown, a reply that is neither an acknowledgement nor a visitor's "完成", or grid staff through the API.
A duty person takes it (认领) within the policy's `report_take_min`, else the county duty is 叫应'd; a
taken report is closed as handled (处置) or forwarded (转报) to whoever acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256


class ReportSource(StrEnum):
    VISIT = "visit"  # a visitor's needs_help / refused
    WHEREABOUTS = "whereabouts"  # a vulnerable household nobody found twice
    REPLY = "reply"  # an SMS / WeChat answer that is not an acknowledgement
    STAFF = "staff"  # posted by grid staff through the API


class ReportKind(StrEnum):
    NEEDS_HELP = "needs_help"  # 求助: cannot leave / move without help
    REFUSED = "refused"  # 拒绝转移
    WHEREABOUTS_UNKNOWN = "whereabouts_unknown"  # 下落不明
    DISASTER = "disaster"  # 灾情: landslide, flooding, a road cut…
    REPLY = "reply"  # 群众回复: free text to be read by a person
    POINT_REPORT = "point_report"  # 点位报告: a monitoring point's lead reports from the point
    OTHER = "other"


class ReportState(StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    HANDLED = "handled"
    FORWARDED = "forwarded"


# Kinds grid staff may post themselves; the others are opened by the engine.
STAFF_KINDS = (
    ReportKind.DISASTER,
    ReportKind.NEEDS_HELP,
    ReportKind.REFUSED,
    ReportKind.POINT_REPORT,
    ReportKind.OTHER,
)


@dataclass(frozen=True)
class FieldReport:
    report_id: str
    source: ReportSource
    kind: ReportKind
    state: ReportState
    created_at: float
    text: str
    warning_id: str | None = None
    village_code: str | None = None
    household_id: str | None = None
    reporter: str | None = None  # person id, API user name, or the replying address's person
    lon: float | None = None
    lat: float | None = None
    taken_by: str | None = None
    taken_at: float | None = None
    closed_by: str | None = None
    closed_at: float | None = None
    outcome_note: str | None = None
    calls: int = 0  # 叫应 of the county duty made because nobody took it in time
    photos: tuple[str, ...] = ()  # sha256 of each photo, in the order posted


def report_id(*parts: object) -> str:
    """A stable id: the same event (a redelivered reply, a visit outcome written twice) opens one report."""
    return "fr-" + sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:20]
