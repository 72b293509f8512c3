"""Organisations in upward reports and Cancels (issue 17, review), against the real record (SQLite and
PostgreSQL): progress reports count the orgs (targeted, reached, headcount reached); a Cancel (解除) reaches
the responsible persons an earlier version messaged for their org, and a reply to it reaches no org."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import update

from channels.base import ChannelEvent
from tests.escalate.test_ladder import POLICY, red, rows
from tests.escalate.test_orgs import orgs_of, start
from tests.plan.org_county import SCHOOL, SITE
from warnengine.acks.people import apply_channel_events
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.upward import REPORT_STEP, report_upward
from warnengine.model import MsgType
from warnengine.plan.orgs import org_key
from warnengine.plan.plan import person_delivery_id
from warnengine.plan.stage import plan_deliveries

TZ = ZoneInfo("Asia/Shanghai")


async def test_progress_reports_count_the_orgs(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    lad.clock.advance(11 * 60)
    sent = await report_upward(store, lad.directory, POLICY, lad.emit, TZ)
    assert sent
    texts = {
        str(d["text"]) for d in await rows(store, t.deliveries, warning_id=lad.w.warning_id, step=REPORT_STEP)
    }
    # The school (830) and the site (120) under the village's township and county; none answered yet.
    assert texts and all("单位 0/2 已回复（人数 0/950）" in x for x in texts)
    assert all("orgs 0/2 reached (headcount 0/950)" in x for x in texts)


async def test_a_cancel_reaches_the_orgs_responsible_persons(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    wid = lad.w.warning_id
    first = {
        (d["person_id"], d["channel"])
        for d in await rows(store, t.deliveries, warning_id=wid, version=1)
        if d["delivery_id"]
        in {r["delivery_id"] for r in await rows(store, ot.org_deliveries, warning_id=wid)}
    }
    assert first and {p for p, _ in first} == {lad.principal}
    async with store.engine.begin() as conn:  # people dispatch sent version 1 (claimed: attempts 1)
        await conn.execute(
            update(t.deliveries).where(t.deliveries.c.warning_id == wid).values(attempts=1, state="sent")
        )
    lad.clock.advance(20 * 60)
    cancel = red(lad.w.areas[0].codes[0], lad.clock, MsgType.CANCEL, version=2)
    assert await store.save_warning(cancel) == "cancel"
    villages = await plan_deliveries(cancel, lad.directory, POLICY, store, 3600)
    school = next(o for o in lad.county.orgs if o.org_id == SCHOOL)
    assert school.cell_code[:12] in villages  # so people dispatch runs there for the Cancel's version
    everyone = [
        d for d in await rows(store, t.deliveries, warning_id=wid, version=2) if d["channel"] != "loudspeaker"
    ]
    # The principal, on every channel the warning reached them on for the school, under the school's key
    # (the residents and staff messaged for themselves are told once each: tests/plan/test_cancel_people.py).
    keys = {person_delivery_id(wid, 2, org_key(lad.principal, SCHOOL), ch) for _, ch in first}
    told = [d for d in everyone if d["delivery_id"] in keys]
    assert {(d["person_id"], d["channel"]) for d in told} == first and len(told) == len(keys)
    assert all(d["state"] == "pending" and d["step"] == 0 and d["text"] is None for d in everyone)
    # Planning the Cancel again (a redelivery) adds nothing.
    n = len(await rows(store, t.deliveries, warning_id=wid, version=2))
    await plan_deliveries(cancel, lad.directory, POLICY, store, 3600)
    assert len(await rows(store, t.deliveries, warning_id=wid, version=2)) == n
    # The principal's "收到" to the Cancel reaches no org: the school stays as it was.
    phone = lad.people[lad.principal].phone
    assert phone is not None
    reply = ChannelEvent("twilio", "reply", lad.clock.now(), sender=phone, text="收到", ack_hint=False)
    await apply_channel_events([reply], store, lad.directory)
    orgs = await orgs_of(store, wid)
    assert orgs[SCHOOL]["state"] == "targeted" and orgs[SITE]["state"] == "unreachable"
