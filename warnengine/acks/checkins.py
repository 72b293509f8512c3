"""Shelter keepers check people in by SMS reply (issue 17): "到 H123 3", "入住 H123 3人", "登记 P0042" from a
shelter keeper's phone is a check-in at that keeper's shelter — a household's headcount (its members when
no number is given) or one person — under the evacuation the household is part of (else the latest one
under way). One check-in per person or household per warning: nothing is counted twice.

A keeper's message that starts like a check-in but cannot be recorded (unreadable, an unknown household or
person, a second check-in, no evacuation under way, a keeper of several shelters) goes to the field-report
inbox with the reason, never dropped; a message from anyone else, or one that is not a check-in, goes on
to the inbox as any reply does. A redelivered webhook (same keeper, same time) changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from typing import Literal, Protocol

import structlog

from warnengine.acks.inbox import InboxStore, reply_report
from warnengine.acks.store import KeeperCheckIns
from warnengine.model.evacuation import Shelter
from warnengine.obs import metrics
from warnengine.resolve.directory import Directory
from warnengine.wire.records import ChannelEvent

log = structlog.get_logger("warnengine.acks")

WINDOW_S = 3 * 24 * 3600.0  # an evacuation ordered in the last three days is the one checked in under
_WORD = r"(?:到|到达|入住|登记|签到|checkin|check-in|in)"
_CHECK_IN = re.compile(
    _WORD + r"\s*[:：]?\s*(?P<id>[A-Za-z0-9_.-]{1,32})\s*(?:[,，、]\s*)?(?P<n>\d{1,4})?\s*(?:人|口|名)?\s*$",
    re.IGNORECASE,
)
_LOOKS_LIKE = re.compile(r"^" + _WORD + r"(?:\s|[:：]|[A-Za-z0-9]|$)", re.IGNORECASE)


class CheckInStore(InboxStore, KeeperCheckIns, Protocol):
    """What the check-in needs: the inbox, and the keeper's queries (acks/store.py)."""


@dataclasses.dataclass(frozen=True)
class Parsed:
    ref: str  # a household id or a person id
    persons: int | None  # None: not given


def parse_check_in(text: str) -> Parsed | Literal["unreadable"] | None:
    """A keeper's check-in text; None when it is not one at all, "unreadable" when it starts like one."""
    plain = unicodedata.normalize("NFKC", text).strip(" 。.!！")
    m = _CHECK_IN.match(plain)
    if m is not None:
        return Parsed(m["id"], int(m["n"]) if m["n"] else None)
    return "unreadable" if _LOOKS_LIKE.match(plain) else None


async def keeper_check_ins(
    replies: Sequence[ChannelEvent], store: CheckInStore, directory: Directory
) -> tuple[list[ChannelEvent], dict[str, int]]:
    """Records the keepers' check-ins; returns the replies left for the inbox and the counts."""
    rest: list[ChannelEvent] = []
    counts = {"checked_in": 0, "checkin_refused": 0, "checkin_redelivered": 0}
    for e in replies:
        parsed = parse_check_in(e.text or "") if e.sender and e.text else None
        shelters = (
            await store.shelters_kept_by(directory.people_at(e.sender or "")) if parsed is not None else []
        )
        if parsed is None or not shelters:
            rest.append(e)
            continue
        outcome = await _check_in(e, parsed, shelters, store, directory)
        if outcome == "checked_in" or outcome == "redelivered":
            counts["checked_in" if outcome == "checked_in" else "checkin_redelivered"] += 1
            continue
        counts["checkin_refused"] += 1
        metrics.ACKS_REJECTED.labels("keeper_checkin").inc()
        report = reply_report(e, directory)
        text = f"{report.text}【安置登记未成功 / check-in not recorded: {outcome}】"
        await store.open_field_reports([dataclasses.replace(report, text=text)])
        log.info("keeper_checkin_refused", reason=outcome)
    return rest, counts


async def _check_in(
    e: ChannelEvent,
    parsed: Parsed | Literal["unreadable"],
    shelters: list[Shelter],
    store: CheckInStore,
    directory: Directory,
) -> str:
    """ "checked_in", "redelivered", or why not (the inbox entry's words)."""
    if parsed == "unreadable":
        return "看不懂，请按“到 户号 人数”回复 / unreadable: reply 到 <household id> <persons>"
    if len(shelters) > 1:
        names = "、".join(s.shelter_id for s in shelters)
        return f"管理多个安置点（{names}），请在控制台登记 / keeper of several shelters: use the console"
    shelter, keeper = shelters[0], shelters[0].keeper_person_id or ""
    home = directory.household_index.get(parsed.ref)
    person = directory.contacts().get(parsed.ref)
    household: str | None
    if home is not None:
        village, i = home
        persons = parsed.persons or int(directory.homes[village].members[i]) or 1
        key, household = f"household:{parsed.ref}", parsed.ref
    elif person is not None:
        if parsed.persons not in (None, 1):
            return f"{parsed.ref} 是一个人，不是户 / {parsed.ref} is one person, not a household"
        persons, key, household = 1, parsed.ref, person.household_id
    else:
        return f"没有该户或人员 / unknown household or person {parsed.ref}"
    warning = await store.evacuation_warning_for(household, e.at - WINDOW_S)
    if warning is None:
        return "当前没有转移 / no evacuation under way"
    who = f"sms:{keeper}"
    done = await store.check_in(warning, shelter.shelter_id, key, household, persons, who, e.at)
    if done == "checked_in":
        log.info("keeper_checkin", warning_id=warning, shelter=shelter.shelter_id, persons=persons)
        return "checked_in"
    if await store.checkin_of(warning, key) == (who, e.at):
        return "redelivered"  # the same message again: recorded the first time
    return f"{parsed.ref} 已登记 / already checked in for this warning"
