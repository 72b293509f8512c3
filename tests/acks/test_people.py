from __future__ import annotations

from typing import Any

from sqlalchemy import select

from channels.base import ChannelEvent
from tests.acks.persons import rest_accounted
from tests.plan.conftest import planned_village
from warnengine.acks.people import apply_app_acks, apply_channel_events
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import DeliveryState, HazardWarning, Severity
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
from warnengine.wire.records import AppAck

RED_SMS = DisseminationPolicy(
    rules=(Rule(name="t", hazards=("any",), severities=(Severity.RED,), residents=Residents.ALL),)
)


async def planned(store: Store, county: County) -> tuple[HazardWarning, Any]:
    return await planned_village(store, county, "w-ack")


async def rows(store: Store, table: Any, **where: Any) -> list[dict[str, Any]]:
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    async with store.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def test_receipts_move_forward_and_a_reply_reaches_the_household(
    store: Store, small_county: County
) -> None:
    w, directory = await planned(store, small_county)
    sms = [
        d
        for d in await rows(store, t.deliveries, warning_id=w.warning_id, channel="sms")
        if d["household_id"]
    ]
    first, second = sms[0], sms[1]
    await rest_accounted(store, w.warning_id, [second["person_id"]])
    events = [
        ChannelEvent(
            "twilio", "status", 10.0, delivery_id=first["delivery_id"], state=DeliveryState.DELIVERED
        ),
        # Out of order: "sent" after "delivered" changes nothing.
        ChannelEvent("twilio", "status", 11.0, delivery_id=first["delivery_id"], state=DeliveryState.SENT),
        ChannelEvent("twilio", "status", 12.0, delivery_id="d-unknown", state=DeliveryState.DELIVERED),
        ChannelEvent(
            "twilio",
            "status",
            13.0,
            delivery_id=second["delivery_id"],
            state=DeliveryState.FAILED,
            reason="30003",
        ),
    ]
    counts = await apply_channel_events(events, store, directory)
    assert counts == {"applied": 2, "stale": 1, "unknown_delivery": 1, "replies_not_ack": 0}
    [d1] = await rows(store, t.deliveries, delivery_id=first["delivery_id"])
    [d2] = await rows(store, t.deliveries, delivery_id=second["delivery_id"])
    assert d1["state"] == "delivered" and d2["state"] == "failed" and d2["reason"] == "30003"
    [h1] = await rows(
        store, t.warning_households, warning_id=w.warning_id, household_id=first["household_id"]
    )
    assert h1["state"] == "delivered"  # delivered is not reached: only a human answer is

    # The person whose SMS "failed" answers anyway: the answer wins, the household is reached.
    reply = ChannelEvent("twilio", "reply", 20.0, sender=second["recipient"], text="收到", ack_hint=True)
    chatter = ChannelEvent("twilio", "reply", 21.0, sender=first["recipient"], text="what?", ack_hint=False)
    counts = await apply_channel_events([reply, chatter], store, directory)
    assert counts["acknowledged"] >= 1 and counts["replies_not_ack"] == 1
    [d2] = await rows(store, t.deliveries, delivery_id=second["delivery_id"])
    assert d2["state"] == "acknowledged" and d2["acked_at"] == 20.0
    [h2] = await rows(
        store, t.warning_households, warning_id=w.warning_id, household_id=second["household_id"]
    )
    assert (h2["state"], h2["reached_by"], h2["evidence"], h2["reached_at"]) == (
        "reached", "sms", second["delivery_id"], 20.0
    )  # fmt: skip
    # The same reply again (a redelivered webhook) changes nothing.
    assert (await apply_channel_events([reply], store, directory))["acknowledged"] == 0


async def test_app_ack_by_delivery_or_by_person(store: Store, small_county: County) -> None:
    w, _ = await planned(store, small_county)
    sms = [
        d
        for d in await rows(store, t.deliveries, warning_id=w.warning_id, channel="sms")
        if d["household_id"]
    ]
    await rest_accounted(store, w.warning_id, [sms[0]["person_id"], sms[1]["person_id"]])
    assert await apply_app_acks([AppAck(delivery_id=sms[0]["delivery_id"], at=5.0)], store) == 1
    assert (
        await apply_app_acks([AppAck(warning_id=w.warning_id, person_id=sms[1]["person_id"], at=6.0)], store)
        >= 1
    )
    assert (
        await apply_app_acks([AppAck(warning_id="w-other", person_id=sms[2]["person_id"], at=7.0)], store)
        == 0
    )
    reached = [
        h for h in await rows(store, t.warning_households, warning_id=w.warning_id) if h["state"] == "reached"
    ]
    assert {h["household_id"] for h in reached} == {sms[0]["household_id"], sms[1]["household_id"]}


async def test_app_acks_that_change_nothing_are_recorded_with_the_reason(
    store: Store, small_county: County
) -> None:
    """Unknown deliveries, duplicates and answers after a Cancel: kept in `acks` with the verdict, never
    applied, and a repeated stray ack is recorded once."""
    w, _ = await planned(store, small_county)
    sms = [
        d
        for d in await rows(store, t.deliveries, warning_id=w.warning_id, channel="sms")
        if d["household_id"]
    ]
    first, later = sms[0]["delivery_id"], sms[1]["delivery_id"]
    await rest_accounted(store, w.warning_id, [sms[0]["person_id"]])
    assert await apply_app_acks([AppAck(delivery_id=first, at=5.0)], store) == 1
    async with store.engine.begin() as conn:  # as a Cancel leaves the open deliveries
        await conn.execute(
            t.deliveries.update().where(t.deliveries.c.delivery_id == later).values(state="cancelled")
        )
    stray = [
        AppAck(delivery_id=first, at=6.0),  # answered twice
        AppAck(delivery_id=later, at=7.0),  # after the Cancel
        AppAck(delivery_id="d-nobody", at=8.0),  # no such delivery
        AppAck(delivery_id="d-nobody", at=9.0),  # ... sent again
        AppAck(warning_id="w-0000000000000000", person_id=sms[2]["person_id"], at=9.5),
    ]
    assert await apply_app_acks(stray, store) == 0
    recorded = {r["delivery_id"]: r for r in await rows(store, t.acks, state="acknowledged")}
    assert {k: r["verdict"] for k, r in recorded.items()} == {
        first: "duplicate",
        later: "closed",
        "d-nobody": "unknown_delivery",
    }
    assert recorded[later]["reason"] == "acknowledged, but the delivery is cancelled"
    assert recorded["d-nobody"]["at"] == 8.0  # the first of the repeats, recorded once
    [d] = await rows(store, t.deliveries, delivery_id=later)
    assert d["state"] == "cancelled" and d["acked_at"] is None  # never applied
    reached = [
        h for h in await rows(store, t.warning_households, warning_id=w.warning_id) if h["state"] == "reached"
    ]
    assert {h["household_id"] for h in reached} == {sms[0]["household_id"]}  # counted once


async def test_each_answer_keeps_its_own_time_in_a_batch(store: Store, small_county: County) -> None:
    """A batch may gather answers over minutes (a backlog after an outage): every delivery and household
    is stamped with its own answer's time, not the batch's earliest."""
    w, directory = await planned(store, small_county)
    sms = [
        d
        for d in await rows(store, t.deliveries, warning_id=w.warning_id, channel="sms")
        if d["household_id"]
    ]
    homes = list({d["household_id"]: d for d in sms}.values())
    a, b, c = homes[0], homes[1], homes[2]
    await rest_accounted(store, w.warning_id, [a["person_id"], b["person_id"], c["person_id"]])
    assert (
        await apply_app_acks(
            [AppAck(delivery_id=a["delivery_id"], at=100.0), AppAck(delivery_id=b["delivery_id"], at=400.0)],
            store,
        )
        == 2
    )
    reply = ChannelEvent("twilio", "reply", 700.0, sender=c["recipient"], text="收到", ack_hint=True)
    late = ChannelEvent("twilio", "reply", 900.0, sender=c["recipient"], text="1", ack_hint=True)
    await apply_channel_events([late, reply], store, directory)  # out of order: the earlier one counts
    for d, at in ((a, 100.0), (b, 400.0), (c, 700.0)):
        [row] = await rows(store, t.deliveries, delivery_id=d["delivery_id"])
        [home] = await rows(
            store, t.warning_households, warning_id=w.warning_id, household_id=d["household_id"]
        )
        assert (row["acked_at"], home["reached_at"]) == (at, at)


async def test_pressing_1_on_a_call_acknowledges_its_delivery(store: Store, small_county: County) -> None:
    """The voice webhook's ACKNOWLEDGED status (the person pressed 1) acknowledges that delivery
    and reaches the household; pressing 1 again, or for a delivery that does not exist, is recorded, not
    applied."""
    w, directory = await planned_village(store, small_county, "w-voice", ("voice",))
    calls = [
        d
        for d in await rows(store, t.deliveries, warning_id=w.warning_id, channel="voice")
        if d["household_id"]
    ]
    assert calls
    call = calls[0]
    await rest_accounted(store, w.warning_id, [call["person_id"]])

    def pressed(did: str, at: float) -> ChannelEvent:
        return ChannelEvent(
            "twilio-voice",
            "status",
            at,
            delivery_id=did,
            state=DeliveryState.ACKNOWLEDGED,
            reason="pressed 1",
        )

    counts = await apply_channel_events([pressed(call["delivery_id"], 30.0)], store, directory)
    assert counts["acknowledged"] == 1
    [d] = await rows(store, t.deliveries, delivery_id=call["delivery_id"])
    assert (d["state"], d["acked_at"]) == ("acknowledged", 30.0)
    [h] = await rows(store, t.warning_households, warning_id=w.warning_id, household_id=call["household_id"])
    assert (h["state"], h["reached_by"]) == ("reached", "voice")
    again = await apply_channel_events(
        [pressed(call["delivery_id"], 31.0), pressed("d-nope", 31.0)], store, directory
    )
    assert again["acknowledged"] == 0
    assert again["pressed_duplicate"] == 1 and again["pressed_unknown_delivery"] == 1
