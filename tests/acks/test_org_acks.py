"""Acknowledgements for organisations (issue 17): a responsible person's "收到" (or "收到，<note>") reaches
their org, the note kept as its evidence and the reply kept out of the field-report inbox; a note from
someone who answers for no org, or an org person's text that is no acknowledgement, still goes to the
inbox; an app acknowledgement of an org delivery reaches the org too; other people's answers never do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from channels.base import ChannelEvent
from tests.acks.test_people import rows
from tests.plan.org_county import SCHOOL, SITE, principal_of, with_orgs
from tests.plan.test_orgs import POLICY
from warnengine.acks.orgs import ack_note
from warnengine.acks.people import apply_app_acks, apply_channel_events
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory
from warnengine.wire.records import AppAck


def test_ack_note() -> None:
    assert ack_note("收到") == ""
    assert ack_note("收到，830名学生留在室内") == "830名学生留在室内"
    assert ack_note("已收到。工地已停工, 120人撤离") == "工地已停工, 120人撤离"
    assert ack_note("ＯＫ ２００人在岗") == "200人在岗"  # full-width, as phones type it
    assert ack_note("1 全部在室内") == "全部在室内"
    assert ack_note("好的") == ""
    assert ack_note("收到了！") == ""
    assert ack_note("18个学生没到校") is None  # a number, not "1" then a note
    assert ack_note("后山有滚石") is None
    assert ack_note("收费站堵车") is None  # starts like 收到, is not


async def planned(store: Store, small_county: County) -> tuple[HazardWarning, Directory, County]:
    county = with_orgs(small_county)
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points, orgs=county.orgs
    )
    directory = await Directory.load(store)
    village = next(o for o in county.orgs if o.org_id == SCHOOL).cell_code[:12]
    w = HazardWarning(
        warning_id="w-org-ack",
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        areas=[Area(codes=[village])],
    )
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 3600)
    return w, directory, county


async def school(store: Store) -> dict[str, Any]:
    [row] = await rows(store, ot.warning_orgs, warning_id="w-org-ack", org_id=SCHOOL)
    return row


def sms(phone: str, at: float, text: str, hint: bool = False) -> ChannelEvent:
    return ChannelEvent("twilio", "reply", at, sender=phone, text=text, ack_hint=hint)


async def test_plain_ack_reaches_the_org_and_a_later_note_is_kept(store: Store, small_county: County) -> None:
    w, directory, county = await planned(store, small_county)
    phone = next(p.phone for p in county.people if p.person_id == principal_of(county))
    assert phone is not None
    counts = await apply_channel_events([sms(phone, 5.0, "收到", True)], store, directory)
    assert counts["org_acknowledged"] >= 1 and counts.get("org_notes", 0) == 0
    row = await school(store)
    assert (row["state"], row["reached_at"], row["note"]) == ("reached", 5.0, None)
    assert row["evidence"] in {r["delivery_id"] for r in await rows(store, ot.org_deliveries, org_id=SCHOOL)}
    # Their own SMS as a resident is acknowledged too: "收到" answers all their deliveries on its channel.
    mine = await rows(store, t.deliveries, warning_id=w.warning_id, person_id=principal_of(county))
    assert len(mine) > 1 and {d["state"] for d in mine if d["channel"] == "sms"} == {"acknowledged"}
    # A note afterwards: kept (the first note stands), reached_at unchanged, not a field report.
    counts = await apply_channel_events([sms(phone, 9.0, "收到，830名学生留在室内")], store, directory)
    assert counts["org_notes"] == 1 and "replies_to_inbox" not in counts
    row = await school(store)
    assert (row["reached_at"], row["note"]) == (5.0, "830名学生留在室内")
    await apply_channel_events([sms(phone, 12.0, "收到，改为留校")], store, directory)
    assert (await school(store))["note"] == "830名学生留在室内"
    assert await store.field_reports() == []


async def test_what_is_not_an_org_ack_goes_to_the_inbox(store: Store, small_county: County) -> None:
    _, directory, county = await planned(store, small_county)
    principal = principal_of(county)
    phone = next(p.phone for p in county.people if p.person_id == principal)
    village = (await school(store))["village_code"]
    other = next(
        p for p in county.people if p.phone and p.cell_code[:12] == village and p.person_id != principal
    )
    assert phone is not None and other.phone is not None
    batch = [
        sms(phone, 5.0, "后山有滚石"),  # the principal, but no acknowledgement: a field report
        sms(other.phone, 6.0, "收到，全家在家"),  # answers for no org: the inbox, as before
    ]
    counts = await apply_channel_events(batch, store, directory)
    assert counts["replies_to_inbox"] == 2 and not counts.get("org_acknowledged")
    assert (await school(store))["state"] == "targeted"
    assert sorted(r.created_at for r in await store.field_reports()) == [5.0, 6.0]


async def test_app_ack_of_an_org_delivery(store: Store, small_county: County) -> None:
    w, _, _ = await planned(store, small_county)
    [link, *_] = await rows(store, ot.org_deliveries, warning_id=w.warning_id, org_id=SCHOOL)
    assert await apply_app_acks([AppAck(delivery_id=link["delivery_id"], at=7.0)], store) == 1
    row = await school(store)
    assert (row["state"], row["evidence"], row["reached_at"]) == ("reached", link["delivery_id"], 7.0)
    [site] = await rows(store, ot.warning_orgs, warning_id=w.warning_id, org_id=SITE)
    assert site["state"] == "unreachable"  # nobody answers for it: named unreachable when planned
