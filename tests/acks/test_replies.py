"""SMS replies ("收到") matched by phone number: what they acknowledge, and the ones that change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, update

from channels.base import ChannelEvent
from tests.acks.persons import rest_accounted
from tests.acks.test_people import RED_SMS, planned, rows
from tests.plan.conftest import directory_of
from warnengine.acks.people import apply_channel_events
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Area, DeliveryState, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.plan import person_delivery_id
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory


def reply(phone: str, at: float, text: str = "收到") -> ChannelEvent:
    return ChannelEvent("twilio", "reply", at, sender=phone, text=text, ack_hint=text == "收到")


def flood(
    warning_id: str, village: str, msg_type: MsgType = MsgType.ALERT, version: int = 1
) -> HazardWarning:
    return HazardWarning(
        warning_id=warning_id,
        version=version,
        sender="s",
        identifier=warning_id,
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=msg_type,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        areas=[Area(codes=[village])],
    )


async def plan(store: Store, directory: Directory, w: HazardWarning) -> None:
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, RED_SMS, store, 3600)


async def sms_of(store: Store, warning_id: str) -> list[dict[str, Any]]:
    return [
        d for d in await rows(store, t.deliveries, warning_id=warning_id, channel="sms") if d["household_id"]
    ]


async def one(store: Store, table: Any, **where: Any) -> dict[str, Any]:
    [row] = await rows(store, table, **where)
    return row


async def test_bad_replies_change_nothing_and_are_counted(store: Store, small_county: County) -> None:
    w, directory = await planned(store, small_county)
    sms = await sms_of(store, w.warning_id)
    a, closed, late = sms[0], sms[1], sms[2]
    assert len({a["recipient"], closed["recipient"], late["recipient"]}) == 3
    await rest_accounted(store, w.warning_id, [a["person_id"]])

    # A reply from a number nobody has, the same reply twice in one batch, and chatter.
    batch = [reply("+8610000000000", 5.0), reply(a["recipient"], 5.0), reply(a["recipient"], 6.0)]
    counts = await apply_channel_events([*batch, reply(a["recipient"], 7.0, "谁？")], store, directory)
    assert counts == {
        "applied": 0,
        "stale": 0,
        "unknown_delivery": 0,
        "acknowledged": 1,
        "reply_acknowledged": 1,
        "reply_no_change": 1,
        "reply_unknown_sender": 1,
        "replies_not_ack": 1,
        "replies_to_inbox": 1,  # "谁？" is read by a person: the field-report inbox (issue 17)
    }
    d = await one(store, t.deliveries, delivery_id=a["delivery_id"])
    assert (d["state"], d["acked_at"]) == ("acknowledged", 5.0)
    h = await one(store, t.warning_households, warning_id=w.warning_id, household_id=a["household_id"])
    assert (h["state"], h["evidence"], h["reached_at"]) == ("reached", a["delivery_id"], 5.0)

    # The batch redelivered: nothing moves, every reply is counted as changing nothing.
    again = await apply_channel_events(batch, store, directory)
    assert (again["acknowledged"], again["reply_no_change"], again["reply_unknown_sender"]) == (0, 2, 1)
    assert (await one(store, t.deliveries, delivery_id=a["delivery_id"]))["acked_at"] == 5.0

    # A delivery closed meanwhile (expired): the answer comes too late to count.
    async with store.engine.begin() as conn:
        await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.delivery_id == closed["delivery_id"])
            .values(state=DeliveryState.EXPIRED.value, reason="expired")
        )
    counts = await apply_channel_events([reply(closed["recipient"], 8.0)], store, directory)
    assert (counts["acknowledged"], counts["reply_no_change"]) == (0, 1)
    assert (await one(store, t.deliveries, delivery_id=closed["delivery_id"]))["state"] == "expired"

    # 解除: after the Cancel, a reply acknowledges nothing, and the cancelled delivery stays cancelled.
    assert await store.save_warning(flood(w.warning_id, w.areas[0].codes[0], MsgType.CANCEL, 2)) == "cancel"
    counts = await apply_channel_events([reply(late["recipient"], 9.0)], store, directory)
    assert (counts["acknowledged"], counts["reply_acknowledged"], counts["reply_no_change"]) == (0, 0, 1)
    d = await one(store, t.deliveries, delivery_id=late["delivery_id"])
    assert (d["state"], d["acked_at"]) == ("cancelled", None)
    h = await one(store, t.warning_households, warning_id=w.warning_id, household_id=late["household_id"])
    assert h["state"] != "reached"


async def test_a_phone_shared_in_a_household_acknowledges_everyone_at_it(
    store: Store, small_county: County
) -> None:
    # Two members of one household give the same phone (a family phone).
    home = next(
        h
        for h in small_county.households
        if sum(1 for p in small_county.people if p.household_id == h.household_id and p.phone) >= 2
    )
    first, second = [p for p in small_county.people if p.household_id == home.household_id and p.phone][:2]
    people = [p.model_copy(update={"phone": first.phone}) if p == second else p for p in small_county.people]
    county = replace(small_county, people=people)
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    directory = directory_of(county)
    village = home.cell_code[:12]
    w = flood("w-family", village)
    await plan(store, directory, w)
    await rest_accounted(store, w.warning_id, [first.person_id, second.person_id])
    assert first.phone and sorted(directory.people_at(first.phone)) == sorted(
        [first.person_id, second.person_id]
    )

    counts = await apply_channel_events([reply(first.phone, 3.0)], store, directory)
    assert (counts["acknowledged"], counts["reply_acknowledged"], counts["reply_no_change"]) == (2, 1, 0)
    theirs = [
        d for d in await sms_of(store, w.warning_id) if d["person_id"] in (first.person_id, second.person_id)
    ]
    assert len(theirs) == 2 and all(d["state"] == "acknowledged" and d["acked_at"] == 3.0 for d in theirs)
    h = await one(store, t.warning_households, warning_id=w.warning_id, household_id=home.household_id)
    assert h["state"] == "reached" and h["evidence"] in {d["delivery_id"] for d in theirs}
    # Once: the same reply again moves nothing.
    assert (await apply_channel_events([reply(first.phone, 4.0)], store, directory))["acknowledged"] == 0


async def test_a_reply_acknowledges_every_live_warning_and_every_step(
    store: Store, small_county: County
) -> None:
    w, directory = await planned(store, small_county)
    village = w.areas[0].codes[0]
    other = flood("w-ack-other", village)
    await plan(store, directory, other)
    a = (await sms_of(store, w.warning_id))[0]
    for wid in (w.warning_id, other.warning_id):
        await rest_accounted(store, wid, [a["person_id"]])
    # Escalation step 1 ran for the first warning and resent this person's SMS (a delivery of its own).
    resend = person_delivery_id(w.warning_id, 1, a["person_id"], "sms", 1)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(t.escalation_steps).values(
                warning_id=w.warning_id, version=1, step=1, action="resend", done_at=1.0, households=1
            )
        )
        await conn.execute(
            insert(t.deliveries).values(
                {**{k: a[k] for k in a if k not in ("delivery_id", "step")}, "delivery_id": resend, "step": 1}
            )
        )
    counts = await apply_channel_events([reply(a["recipient"], 2.0)], store, directory)
    assert (counts["acknowledged"], counts["reply_acknowledged"]) == (3, 1)
    mine = [
        d
        for wid in (w.warning_id, other.warning_id)
        for d in await rows(store, t.deliveries, warning_id=wid, person_id=a["person_id"], channel="sms")
    ]
    assert len(mine) == 3 and all(d["state"] == "acknowledged" for d in mine)
    for wid in (w.warning_id, other.warning_id):
        h = await one(store, t.warning_households, warning_id=wid, household_id=a["household_id"])
        assert h["state"] == "reached"
    # The same person's WeChat and app deliveries are other channels: a reply by SMS does not answer them.
    others = await rows(store, t.deliveries, warning_id=w.warning_id, person_id=a["person_id"])
    assert all(d["state"] != "acknowledged" for d in others if d["channel"] != "sms")


async def test_a_stale_receipt_cannot_undo_an_acknowledgement(
    store: Store, small_county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, directory = await planned(store, small_county)
    a = (await sms_of(store, w.warning_id))[0]
    await rest_accounted(store, w.warning_id, [a["person_id"]])
    await apply_channel_events([reply(a["recipient"], 2.0)], store, directory)
    # Another worker read the delivery as "sent" just before this acknowledgement committed.
    lookup = store._lookup

    async def stale(conn: Any, ids: Any) -> dict[str, tuple[str, str, str | None]]:
        return {k: ("sent", v[1], v[2]) for k, v in (await lookup(conn, ids)).items()}

    monkeypatch.setattr(store, "_lookup", stale)
    status = ChannelEvent(
        "twilio", "status", 3.0, delivery_id=a["delivery_id"], state=DeliveryState.DELIVERED
    )
    await apply_channel_events([status], store, directory)
    d = await one(store, t.deliveries, delivery_id=a["delivery_id"])
    assert (d["state"], d["acked_at"]) == ("acknowledged", 2.0)
    h = await one(store, t.warning_households, warning_id=w.warning_id, household_id=a["household_id"])
    assert h["state"] == "reached"
