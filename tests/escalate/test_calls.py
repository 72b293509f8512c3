"""叫应 by phone (policy `duty_voice_calls`: three calls within five minutes), SQLite and PostgreSQL, the
clock moved by hand: the silent village grid head's 叫应 calls the township's post A three times within five
minutes, then post B; pressing 1 on a call (the voice webhook's event through the ack stage) stops every
further call and message."""

from __future__ import annotations

from typing import Any

from channels.base import ChannelEvent
from tests.escalate.test_duty import calls_about, roster, staff
from tests.escalate.test_ladder import POLICY, Ladder, start
from warnengine.acks.people import apply_channel_events
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.ladder import escalate
from warnengine.escalate.rows import CALL_STEP
from warnengine.model import DeliveryState, Role
from warnengine.plan.policy import DisseminationPolicy

PHONE = DisseminationPolicy(
    rules=tuple(
        r.model_copy(update={"duty_voice_calls": 3, "duty_call_window_min": 5}) if r.name == "red" else r
        for r in POLICY.rules
    )
)


async def sweep_at(lad: Ladder, t0: float, minutes: float) -> None:
    lad.clock.advance(minutes * 60 - (lad.clock.now() - t0))
    await escalate(lad.store, lad.directory, PHONE, lad.emit)


async def calls_to(lad: Ladder, person: str, about: str | None = None) -> list[dict[str, Any]]:
    """The 叫应 phone calls placed to `person` (naming `about`), oldest first."""
    mine = [
        d
        for d in await lad.deliveries()
        if d["person_id"] == person
        and d["step"] >= CALL_STEP
        and d["channel"] == "voice"
        and (about is None or f"{about}（" in d["text"])  # naming them as the silent one
    ]
    return sorted(mine, key=lambda d: d["step"])


async def press_1(lad: Ladder, call: dict[str, Any]) -> dict[str, int]:
    event = ChannelEvent(
        "twilio-voice",
        "status",
        lad.clock.now(),
        delivery_id=call["delivery_id"],
        state=DeliveryState.ACKNOWLEDGED,
        reason="pressed 1",
    )
    return await apply_channel_events([event], lad.store, lad.directory)


async def test_post_a_is_called_three_times_in_five_minutes_then_b_until_someone_presses_1(
    store: Store, small_county: County
) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    who = await roster(lad)
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)
    await sweep_at(lad, t0, 6)  # silent past staff_ack_min: A (d1) gets a message and a call at once
    first = [d for d in await lad.deliveries() if d["person_id"] == who["d1"] and d["step"] == CALL_STEP]
    assert {d["channel"] for d in first} >= {"sms", "voice"}
    await sweep_at(lad, t0, 7)  # a minute later: too soon for the second call
    assert len(await calls_to(lad, who["d1"], head)) == 1
    for minute in (7.75, 9.5, 10.5):
        await sweep_at(lad, t0, minute)
    a_calls = await calls_to(lad, who["d1"], head)
    assert len(a_calls) == 3 and len({d["step"] for d in a_calls}) == 3
    assert max(d["created_at"] for d in a_calls) - min(d["created_at"] for d in a_calls) <= 5 * 60
    assert all(f"{head}（" in d["text"] for d in a_calls)
    # The calls again are calls only, no new SMS.
    assert {d["channel"] for d in await lad.deliveries() if d["person_id"] == who["d1"]} - {
        "sms",
        "voice",
    } <= {
        "wechat",
        "app",
    }
    assert [c["target_id"] for c in await calls_about(lad, head)] == [who["d1"]]
    (row,) = await calls_about(lad, head)
    assert row["tries"] == 3
    # Five minutes after the first call, nobody pressed 1: post B.
    await sweep_at(lad, t0, 11.1)
    called = await calls_about(lad, head)
    assert [c["target_id"] for c in called] == [who["d1"], who["b"]] and called[1]["post"] == "B"
    b_call = (await calls_to(lad, who["b"], head))[-1]
    assert who["d1"] in b_call["text"]  # B hears who did not answer
    counts = await press_1(lad, b_call)
    assert counts["acknowledged"] == 1
    n_deliveries = len(await lad.deliveries())
    for minute in (13, 15, 17, 25, 40):
        await sweep_at(lad, t0, minute)
    # No call after the key press.
    assert [d["delivery_id"] for d in await calls_to(lad, who["b"], head)][-1] == b_call["delivery_id"]
    assert len(await calls_about(lad, head)) == 2 and (await calls_about(lad, head))[1]["tries"] == 1
    later = [d for d in await lad.deliveries() if d["step"] >= CALL_STEP]
    assert not [d for d in later if f"{head}（" in d["text"] and d["created_at"] > b_call["created_at"]]
    assert len(await lad.deliveries()) >= n_deliveries


async def test_pressing_1_on_the_second_call_stops_the_third_and_post_b(
    store: Store, small_county: County
) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    who = await roster(lad)
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)
    await sweep_at(lad, t0, 6)
    await sweep_at(lad, t0, 7.75)
    second = (await calls_to(lad, who["d1"], head))[1]
    assert (await press_1(lad, second))["acknowledged"] == 1
    for minute in (9.5, 11.5, 17, 30):
        await sweep_at(lad, t0, minute)
    assert len(await calls_to(lad, who["d1"], head)) == 2
    assert [c["target_id"] for c in await calls_about(lad, head)] == [who["d1"]]
    assert await calls_to(lad, who["b"], head) == []
