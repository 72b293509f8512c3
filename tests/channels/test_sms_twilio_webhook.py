"""Twilio webhooks end to end: the fake sends through our adapter, then calls our aiohttp app back, signed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.base import ChannelEvent, Outgoing
from channels.sms_twilio import TwilioSms
from channels.sms_twilio_webhook import is_ack, twilio_routes
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from warnengine.clock import SystemClock
from warnengine.model import DeliveryState

SID = "SM" + "ab" * 16


@dataclass
class App:
    url: str
    events: list[ChannelEvent] = field(default_factory=list)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    got = App("")

    async def on_events(events: list[ChannelEvent]) -> None:
        got.events.extend(events)

    web_app = web.Application()
    runner = web.AppRunner(web_app, access_log=None)
    # The public base is what Twilio is told; here it is the local address itself.
    site_port = await _free_port()
    got.url = f"http://127.0.0.1:{site_port}"
    web_app.add_routes(twilio_routes(AUTH_TOKEN, on_events, public_base=got.url))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", site_port).start()
    yield got
    await runner.cleanup()


async def _free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def post(url: str, params: dict[str, str], signature: str | None) -> tuple[int, str, str]:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    async with aiohttp.ClientSession() as s, s.post(url, data=params, headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


async def test_status_callbacks_from_the_fake_become_delivery_events(app: App) -> None:
    async with FakeTwilio(undeliverable=frozenset({"+8613800000002"}), callback_delay_s=0.0) as fake:
        a = TwilioSms(
            ACCOUNT_SID,
            AUTH_TOKEN,
            from_="+15005550006",
            api_base=fake.base_url,
            status_callback_base=app.url,
        )
        exp = SystemClock().now() + 600
        try:
            rs = await a.send_batch(
                [Outgoing(f"d-{i}", f"+86138{i:08d}", "v", {"text": "预警"}, exp) for i in (1, 2)]
            )
        finally:
            await a.stop()
        for _ in range(100):
            if len(app.events) >= 4:
                break
            await asyncio.sleep(0.02)
        assert not fake.callback_failures
    states = {(e.delivery_id, e.state) for e in app.events}
    assert states == {
        ("d-1", DeliveryState.SENT),
        ("d-1", DeliveryState.DELIVERED),
        ("d-2", DeliveryState.SENT),
        ("d-2", DeliveryState.FAILED),
    }
    failed = next(e for e in app.events if e.state is DeliveryState.FAILED)
    assert failed.reason and "30003" in failed.reason and failed.provider_ref == rs[1].provider_ref


async def test_unsigned_or_forged_callbacks_are_403_and_dropped(app: App) -> None:
    url = f"{app.url}/webhooks/twilio/status?d=d-1"
    params = {"MessageSid": SID, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    assert (await post(url, params, None))[0] == 403
    assert (await post(url, params, sign(url, params, "not-the-token")))[0] == 403
    # Signed for one delivery, replayed against another: the URL is part of what is signed.
    assert (await post(f"{app.url}/webhooks/twilio/status?d=d-2", params, sign(url, params)))[0] == 403
    tampered = {**params, "MessageStatus": "failed"}
    assert (await post(url, tampered, sign(url, params)))[0] == 403
    assert app.events == []
    assert (await post(url, params, sign(url, params)))[0] == 200
    assert [e.state for e in app.events] == [DeliveryState.DELIVERED]


@pytest.mark.parametrize(
    ("query", "params", "error"),
    [
        ("", {"MessageSid": SID, "MessageStatus": "sent"}, "delivery id"),
        ("?d=d-1", {"MessageSid": "XX123", "MessageStatus": "sent"}, "MessageSid"),
        ("?d=d-1", {"MessageSid": SID}, "MessageStatus"),
        ("?d=d-1", {"MessageSid": SID, "MessageStatus": "exploded"}, "MessageStatus"),
        ("?d=d-1", {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "x1"}, "ErrorCode"),
    ],
)
async def test_malformed_but_signed_callbacks_are_400_with_a_reason(
    app: App, query: str, params: dict[str, str], error: str
) -> None:
    url = f"{app.url}/webhooks/twilio/status{query}"
    status, ctype, body = await post(url, params, sign(url, params))
    assert status == 400 and ctype.startswith("application/json") and error in body
    assert app.events == []


async def test_progress_statuses_are_accepted_without_an_event(app: App) -> None:
    url = f"{app.url}/webhooks/twilio/status?d=d-1"
    params = {"MessageSid": SID, "MessageStatus": "queued"}
    assert (await post(url, params, sign(url, params)))[0] == 200 and app.events == []


async def test_inbound_replies_become_reply_events_with_an_ack_hint(app: App) -> None:
    async with FakeTwilio() as fake:
        url = f"{app.url}/webhooks/twilio/inbound"
        for text in ("收到", " OK! ", "１", "已收到。", "水已经漫到门口了，需要救援"):
            assert await fake.inbound(url, "+8613800000001", text) == 200
    assert [e.kind for e in app.events] == ["reply"] * 5
    assert [e.ack_hint for e in app.events] == [True, True, True, True, False]
    assert app.events[4].text == "水已经漫到门口了，需要救援" and app.events[0].sender == "+8613800000001"
    params = {"MessageSid": SID, "From": "+8613800000001", "Body": "1"}
    status, ctype, body = await post(url, params, sign(url, params))
    assert status == 200 and ctype.startswith("text/xml") and body.endswith("<Response></Response>")
    assert (await post(url, params, "forged"))[0] == 403
    no_from = {"MessageSid": SID, "Body": "1"}
    assert (await post(url, no_from, sign(url, no_from)))[0] == 400


def test_ack_words() -> None:
    assert all(is_ack(t) for t in ("1", "收到", "ok", "Ok", "好", "已收到", "好的！", "ＯＫ", "Yes"))
    assert not any(is_ack(t) for t in ("", "11", "不好", "收到?不", "help"))
