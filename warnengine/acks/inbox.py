"""Replies that are neither an acknowledgement nor a visitor's "完成" are read by a person: each opens a
field report in the inbox (issue 17) — "山上有滚石", "老人走不动", an unreadable emoji — never dropped.

The report names the person(s) at the sender's address when the directory knows them (and their village),
else the address itself; its id hashes provider, sender, time and text, so a redelivered webhook opens one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from warnengine.model import Role
from warnengine.model.field_report import FieldReport, ReportKind, ReportSource, ReportState, report_id
from warnengine.resolve.directory import Directory
from warnengine.wire.records import ChannelEvent

log = structlog.get_logger("warnengine.acks")

MAX_TEXT = 2000  # a reply longer than this is kept cut (providers cap SMS/WeChat text well below)


class InboxStore(Protocol):
    async def open_field_reports(self, reports: Sequence[FieldReport]) -> int: ...


async def replies_to_inbox(replies: Sequence[ChannelEvent], store: InboxStore, directory: Directory) -> int:
    """Open a report per reply; returns how many were new."""
    reports = [reply_report(e, directory) for e in replies]
    new = await store.open_field_reports(reports)
    if new:
        log.info("replies_to_inbox", reports=new)
    return new


def reply_report(e: ChannelEvent, directory: Directory) -> FieldReport:
    """The report a reply opens: a point lead's is a report from the point (point_report)."""
    sender = e.sender or ""
    people = directory.people_at(sender) if sender else []
    contacts = directory.contacts()
    who = contacts.get(people[0]) if people else None
    household = who.household_id if who else None
    village = directory.household_index.get(household or "", (None, 0))[0] if household else None
    if village is None and who is not None:
        village = who.cell_code[:12]
    text = (e.text or "").strip()[:MAX_TEXT] or "（空回复 / empty reply）"
    return FieldReport(
        report_id=report_id("reply", e.provider, sender, e.at, text),
        source=ReportSource.REPLY,
        kind=ReportKind.POINT_REPORT if who is not None and who.role is Role.POINT_LEAD else ReportKind.REPLY,
        state=ReportState.OPEN,
        created_at=e.at,
        text=f"{'、'.join(people) or '未知号码 / unknown sender'} ({e.provider}): {text}",
        village_code=village,
        household_id=household,
        reporter=people[0] if people else sender[:64],
    )
