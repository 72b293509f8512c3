"""Twilio Voice end to end: the adapter places calls at the fake, the fake plays each outcome and calls our
aiohttp app back, signed; the webhooks turn them into ChannelEvents."""

from __future__ import annotations

import asyncio

import pytest

from channels.base import Outgoing
from channels.voice_twilio import MAX_TWIML, TwilioVoice, twiml
from tests.channels.conftest import App
from tests.fakes.faults import Faults
from tests.fakes.twilio_voice import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioVoice
from warnengine.clock import SystemClock
from warnengine.model import Channel, DeliveryState
from warnengine.obs import metrics

TEXT = "红色暴雨预警：请立即转移到安置点。"


def out(i: int, to: str) -> Outgoing:
    return Outgoing(f"d-{i}", to, "v1", {"text": TEXT}, SystemClock().now() + 600)


async def settle(fake: FakeTwilioVoice, n: int) -> None:
    for _ in range(500):
        if sum(1 for c in fake.calls.values() if c.statuses and c.statuses[-1] in _ENDS) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"calls did not end: {[c.statuses for c in fake.calls.values()]}")


_ENDS = {"completed", "busy", "no-answer", "failed"}


def outcome_count(outcome: str) -> float:
    return float(metrics.VOICE_CALLS.labels("twilio-voice", outcome)._value.get())


async def test_each_outcome_is_recorded_and_press_1_acknowledges(voice_app: App) -> None:
    numbers = {
        "busy": "+8613800000001",
        "no-answer": "+8613800000002",
        "failed": "+8613800000003",
        "answered": "+8613800000004",
        "press1": "+8613800000005",
        "press2": "+8613800000006",
    }
    landline = "+868162345678"
    before = {o: outcome_count(o) for o in ("busy", "no_answer", "failed", "answered", "confirmed")}
    async with FakeTwilioVoice(
        outcomes={**{n: o for o, n in numbers.items()}, landline: "press1"}, callback_delay_s=0.0
    ) as fake:
        a = TwilioVoice(
            ACCOUNT_SID, AUTH_TOKEN, from_="+15005550006", api_base=fake.base_url, callback_base=voice_app.url
        )
        assert a.kind is Channel.VOICE
        batch = [out(i, n) for i, n in enumerate([*numbers.values(), landline])]
        try:
            rs = await a.send_batch(batch)
            await settle(fake, len(batch))
        finally:
            await a.stop()
        assert [r.ok for r in rs] == [True] * len(batch)
        assert {r.provider_ref for r in rs} == set(fake.calls)
        assert fake.callback_failures == []
    by = {(e.delivery_id, e.state) for e in voice_app.events}
    failed = {e.delivery_id: e.reason for e in voice_app.events if e.state is DeliveryState.FAILED}
    assert failed["d-0"] is not None and failed["d-0"].startswith("busy")
    assert failed["d-1"] is not None and failed["d-1"].startswith("no_answer")
    assert failed["d-2"] is not None and failed["d-2"].startswith("failed")
    acked = {d for d, st in by if st is DeliveryState.ACKNOWLEDGED}
    assert acked == {"d-4", "d-6"}  # pressed 1: the mobile and the landline; "2" acknowledges nothing
    delivered = {d for d, st in by if st is DeliveryState.DELIVERED}
    assert delivered == {"d-3", "d-4", "d-5", "d-6"}
    assert all(e.provider_ref in fake.calls for e in voice_app.events)
    assert [s for s, _ in fake.gathers] == [200, 200, 200]
    assert sum("已确认" in body for _, body in fake.gathers) == 2
    assert outcome_count("busy") == before["busy"] + 1
    assert outcome_count("no_answer") == before["no_answer"] + 1
    assert outcome_count("confirmed") == before["confirmed"] + 2
    assert outcome_count("answered") == before["answered"] + 4


async def test_the_call_speaks_mandarin_twice_and_asks_for_1(voice_app: App) -> None:
    async with FakeTwilioVoice(callback_delay_s=0.0, callbacks=False) as fake:
        a = TwilioVoice(
            ACCOUNT_SID, AUTH_TOKEN, from_="+15005550006", api_base=fake.base_url, callback_base=voice_app.url
        )
        try:
            [r] = await a.send_batch([out(1, "+8613800000009")])
        finally:
            await a.stop()
    call = fake.calls[str(r.provider_ref)]
    assert call.said()[:2] == [TEXT, TEXT]
    assert any("按1" in s for s in call.said())
    assert call.gather_action() == f"{voice_app.url}/webhooks/twilio/voice/gather?d=d-1"
    assert call.status_callback == f"{voice_app.url}/webhooks/twilio/voice/status?d=d-1"
    assert call.events == ("initiated", "ringing", "answered", "completed")


def test_long_text_is_cut_to_twilio_limit() -> None:
    doc = twiml("预警" * 3000, "https://x.example/g?d=1")
    assert len(doc) <= MAX_TWIML and "<Gather" in doc


@pytest.mark.parametrize(
    ("to", "token", "faults", "code", "retryable"),
    [
        ("+15005550001", AUTH_TOKEN, None, "invalid_number", False),
        ("0816-2345678", AUTH_TOKEN, None, "invalid_number", False),
        ("+8613800000001", "0" * 32, None, "auth", False),
        (
            "+8613800000001",
            AUTH_TOKEN,
            Faults(storm_every_requests=1, storm_requests=1),
            "rate_limited",
            True,
        ),
        ("+8613800000001", AUTH_TOKEN, Faults(error_rate=1.0), "ambiguous", False),
    ],
)
async def test_refusals_are_classified(
    to: str, token: str, faults: Faults | None, code: str, retryable: bool
) -> None:
    async with FakeTwilioVoice(faults=faults, callbacks=False) as fake:
        a = TwilioVoice(ACCOUNT_SID, token, from_="+15005550006", api_base=fake.base_url)
        try:
            [r] = await a.send_batch([out(1, to)])
        finally:
            await a.stop()
        assert (r.ok, r.code, r.retryable) == (False, code, retryable)
        assert fake.calls == {}
