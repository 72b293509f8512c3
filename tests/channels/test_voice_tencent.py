"""Tencent Cloud VMS (SendTtsVoice) against its local fake: TC3-signed calls, each outcome's callbacks
through our webhook (press 1 acknowledges, by call id), refusals classified (429/limits retryable or
failing over, bad numbers final), the ack stage mapping a key press back by call id, and the voice pool
failing over from Twilio to VMS and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from channels.base import ChannelEvent, Outgoing
from channels.config import BreakerConfig, PoolConfig, ProviderConfig, RetryConfig
from channels.voice_tencent import MAX_TEXT, TencentVoice, spoken
from channels.voice_tencent_webhook import tencent_voice_routes
from tests.channels.test_sms_twilio_webhook import _free_port
from tests.fakes.faults import Faults
from tests.fakes.tencent_voice import SECRET_ID, SECRET_KEY, TEMPLATE_ID, VOICE_APP_ID, FakeTencentVoice
from tests.fakes.twilio_voice import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioVoice
from tests.plan.conftest import planned_village
from warnengine.acks.people import apply_channel_events
from warnengine.clock import ManualClock, SystemClock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.sender import build_pool
from warnengine.model import Channel, DeliveryState

TOKEN = "vms-callback-token-0123456789"
TEXT = "叫应：某村 网格长5分钟内未确认收到山洪红色预警，请立即联系。"


@dataclass
class Sink:
    url: str
    events: list[ChannelEvent] = field(default_factory=list)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    """Our VMS callback route on a real port (what the VMS console would be given)."""
    got = Sink("")

    async def on_events(events: list[ChannelEvent]) -> None:
        got.events.extend(events)

    app = web.Application()
    app.add_routes(tencent_voice_routes(TOKEN, on_events))
    port = await _free_port()
    got.url = f"http://127.0.0.1:{port}/webhooks/tencent-voice/{TOKEN}/callback"
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield got
    await runner.cleanup()


def out(i: int, to: str | None = None, text: str = TEXT) -> Outgoing:
    return Outgoing(f"d-{i}", to or f"+86138{i:08d}", "v", {"text": text}, SystemClock().now() + 3600)


def adapter(fake: FakeTencentVoice, **kw: Any) -> TencentVoice:
    params: dict[str, Any] = {"voice_sdk_app_id": VOICE_APP_ID, "template_id": TEMPLATE_ID}
    return TencentVoice(SECRET_ID, kw.pop("secret_key", SECRET_KEY), endpoint=fake.base_url, **(params | kw))


async def send(a: TencentVoice, batch: list[Outgoing]) -> list[Any]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_each_outcome_comes_back_by_call_id_and_press_1_acknowledges(sink: Sink) -> None:
    outcomes: dict[str, str | list[str]] = {
        "+8613800000001": "press1",
        "+8613800000002": "press2",
        "+8613800000003": "no_answer",
        "+8613800000004": "busy",
    }
    async with FakeTencentVoice(outcomes=outcomes, callback=sink.url) as fake:
        results = await send(adapter(fake), [out(i, n) for i, n in enumerate(outcomes, start=1)])
        await fake.settle()
    assert all(r.ok for r in results)
    assert [r.provider_ref for r in results] == list(fake.calls)  # the CallId is the reference
    call = fake.calls[results[0].provider_ref]
    assert call.context == "d-1" and call.play_times == 2 and call.params == [spoken(TEXT)]
    assert all(status == 200 for status, _ in fake.callbacks.pushed)
    by_ref: dict[str, list[tuple[DeliveryState | None, str]]] = {}
    for e in sink.events:
        assert e.provider == "tencent-voice" and e.delivery_id is None and e.kind == "status"
        by_ref.setdefault(e.provider_ref or "", []).append((e.state, (e.reason or "").split(":")[0]))
    first, second, third, fourth = (by_ref[r.provider_ref] for r in results)
    assert first[0][0] is DeliveryState.ACKNOWLEDGED and first[1] == (DeliveryState.DELIVERED, "answered")
    assert second[0][0] is None and second[1][0] is DeliveryState.DELIVERED  # another key: no ack
    assert third == [(DeliveryState.FAILED, "no_answer"), (DeliveryState.FAILED, "no_answer")]
    assert fourth == [(DeliveryState.FAILED, "failed"), (DeliveryState.FAILED, "busy")]
    assert {e.sender for e in sink.events if e.provider_ref == results[0].provider_ref} == {"+8613800000001"}


def test_the_spoken_text_fits_350_characters() -> None:
    said = spoken("预警" * 400)
    assert len(said) == MAX_TEXT and said.endswith("收到请按1。")


@pytest.mark.parametrize(
    ("to", "kw", "faults", "fake_kw", "code", "retryable", "fault"),
    [
        ("+8608162345678", {}, None, {}, "unsupported_number", False, True),  # a landline: Twilio's
        ("+15005550001", {}, None, {}, "unsupported_number", False, True),
        ("0816-2345678", {}, None, {}, "invalid_number", False, False),
        (None, {"secret_key": "wrong"}, None, {}, "provider_rejected", False, True),
        (None, {"template_id": "9999"}, None, {}, "template", False, True),
        (None, {}, Faults(storm_every_requests=1, storm_requests=1), {}, "rate_limited", True, False),
        (
            None, {}, Faults(storm_every_requests=1, storm_requests=1, retry_after_s=3),
            {"storm_as_http_429": True}, "rate_limited", True, False,
        ),
        (None, {}, Faults(error_rate=1.0), {}, "ambiguous", False, False),
    ],
)  # fmt: skip
async def test_refusals_are_classified(
    to: str | None,
    kw: dict[str, Any],
    faults: Faults | None,
    fake_kw: dict[str, Any],
    code: str,
    retryable: bool,
    fault: bool,
) -> None:
    async with FakeTencentVoice(faults=faults, **fake_kw) as fake:
        [r] = await send(adapter(fake, **kw), [out(1, to)])
    assert (r.ok, r.code, r.retryable, r.provider_fault) == (False, code, retryable, fault)
    assert fake.calls == {}
    if fake_kw.get("storm_as_http_429"):
        assert r.retry_after_s == 3


async def test_a_second_call_within_30_s_hits_the_frequency_limit_and_fails_over() -> None:
    async with FakeTencentVoice() as fake:
        first, second = await send(adapter(fake), [out(1), out(2, "+8613800000001")])
    assert first.ok and (second.ok, second.code, second.provider_fault) == (False, "recipient_limit", True)
    assert len(fake.calls) == 1 and fake.errors["LimitExceeded.DeliveryFrequencyLimit"] == 1


async def test_forged_or_malformed_callbacks_change_nothing(sink: Sink) -> None:
    good = {
        "voicekey_callback": {"callid": "c-1", "keypress": "1", "mobile": "13800000001", "nationcode": "86"}
    }
    forged = sink.url.replace(TOKEN, "x" * len(TOKEN))
    async with aiohttp.ClientSession() as http:
        async with http.post(forged, json=good) as r:
            assert r.status == 403
        async with http.post(sink.url, data=b"not json") as r:
            assert r.status == 400
        async with http.post(sink.url, json={"voicekey_callback": {"keypress": "1"}}) as r:
            assert r.status == 200  # answered as documented, the item skipped (no callid)
        async with http.post(sink.url, json=good) as r:
            assert r.status == 200 and await r.json() == {"result": 0, "errmsg": "OK"}
    [e] = sink.events
    assert (e.provider_ref, e.state, e.sender) == ("c-1", DeliveryState.ACKNOWLEDGED, "+8613800000001")


async def test_a_key_press_named_by_call_id_acknowledges_its_delivery(
    store: Store, small_county: County
) -> None:
    w, directory = await planned_village(store, small_county, "w-vms", ("voice",))
    async with store.engine.connect() as conn:
        calls = [
            dict(r._mapping)
            for r in await conn.execute(
                select(t.deliveries).where(
                    t.deliveries.c.warning_id == w.warning_id, t.deliveries.c.channel == "voice"
                )
            )
        ]
    call, other = calls[0], calls[1]
    await store.finish_dispatch([call["delivery_id"]], {}, [], refs={call["delivery_id"]: "vms-call-1"})

    def pressed(sender: str, ref: str = "vms-call-1") -> ChannelEvent:
        return ChannelEvent(
            "tencent-voice", "status", 40.0, state=DeliveryState.ACKNOWLEDGED, provider_ref=ref, sender=sender
        )

    # Another number than the call's, and an unknown call id: dead-lettered, never applied.
    wrong = await apply_channel_events(
        [pressed(other["recipient"]), pressed(call["recipient"], "nope")], store, directory
    )
    assert wrong["provider_ref_recipient_mismatch"] == 1 and wrong["unknown_provider_ref"] == 1
    counts = await apply_channel_events([pressed(call["recipient"])], store, directory)
    assert counts["acknowledged"] == 1
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(select(t.deliveries).where(t.deliveries.c.delivery_id == call["delivery_id"]))
        ).one()
    assert (row.state, row.acked_at) == ("acknowledged", 40.0)


async def test_the_voice_pool_fails_over_to_vms_and_back() -> None:
    clock = ManualClock(SystemClock().now())
    async with FakeTwilioVoice(callbacks=False) as tw, FakeTencentVoice(per_number_30s=None) as vms:
        cfg = PoolConfig(
            Channel.VOICE,
            [
                ProviderConfig(
                    "voice-twilio", "twilio-voice-fo",
                    {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": "+15005550006",
                     "api_base": tw.base_url, "rate_per_s": None},  # no pacing on a clock that stands
                ),
                ProviderConfig(
                    "voice-tencent", "tencent-voice-fo",
                    {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "voice_sdk_app_id": VOICE_APP_ID,
                     "template_id": TEMPLATE_ID, "endpoint": vms.base_url, "rate_per_s": None},
                ),
            ],
            RetryConfig(attempts=2, initial_s=0.01, max_s=0.05, jitter_s=0.01, max_retry_after_s=1),
            BreakerConfig(failures=2, reset_after_s=30),
        )  # fmt: skip
        pool = build_pool(cfg, clock=clock)
        try:
            await tw.set_down(True)
            down = await pool.send([out(i) for i in range(6)])
            assert all(r.ok for r in down) and len(vms.calls) == 6 and tw.calls == {}
            await tw.set_down(False)
            clock.advance(31)  # half-open: the probe succeeds, calls go back to Twilio
            back = await pool.send([out(i) for i in range(6, 10)])
        finally:
            await pool.stop()
    assert all(r.ok for r in back) and len(tw.calls) == 4 and len(vms.calls) == 6
