"""Twilio contract in strict mode (issue 23): a Messaging Service reports 21610/21211 asynchronously, and
Webhook Rules sign callbacks with a SharedKey instead of the auth token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from channels.base import ChannelEvent, Outgoing
from channels.sms_twilio import TwilioSms
from channels.sms_twilio_webhook import twilio_routes
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from warnengine.clock import SystemClock
from warnengine.model import DeliveryState

SERVICE = "MG" + "0123456789abcdef" * 2
STOPPED, BOGUS = "+8613800000007", "+15005550001"
KEY_ID, KEY_SECRET = "webhooks_sharedkey_01hzzzzzzzzzzzzzzzzzzzzzzz", "shared-key-secret-0123456789abcdef"


@dataclass
class App:
    url: str
    events: list[ChannelEvent] = field(default_factory=list)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    got = App(f"http://127.0.0.1:{port}")

    async def on_events(events: list[ChannelEvent]) -> None:
        got.events.extend(events)

    web_app = web.Application()
    web_app.add_routes(
        twilio_routes(AUTH_TOKEN, on_events, public_base=got.url, shared_keys={KEY_ID: KEY_SECRET})
    )
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield got
    await runner.cleanup()


async def send_via_service(fake: FakeTwilio, app: App, numbers: list[str]) -> None:
    a = TwilioSms(
        ACCOUNT_SID,
        AUTH_TOKEN,
        messaging_service_sid=SERVICE,
        api_base=fake.base_url,
        status_callback_base=app.url,
    )
    exp = SystemClock().now() + 600
    try:
        rs = await a.send_batch(
            [Outgoing(f"d-{i}", n, "v", {"text": "预警"}, exp) for i, n in enumerate(numbers)]
        )
    finally:
        await a.stop()
    assert all(r.ok for r in rs), [r.reason for r in rs]  # accepted: the failure comes later
    for _ in range(100):
        if sum(e.state is DeliveryState.FAILED for e in app.events) >= len(numbers):
            break
        await asyncio.sleep(0.02)


async def test_messaging_service_errors_arrive_as_failed_callbacks_labelled_like_sync_ones(app: App) -> None:
    async with FakeTwilio(unsubscribed=frozenset({STOPPED}), callback_delay_s=0.0) as fake:
        await send_via_service(fake, app, [STOPPED, BOGUS])
        assert not fake.callback_failures
    failed = {e.delivery_id: e.reason or "" for e in app.events if e.state is DeliveryState.FAILED}
    assert failed["d-0"].startswith("unsubscribed:") and "21610" in failed["d-0"]
    assert failed["d-1"].startswith("invalid_number:") and "21211" in failed["d-1"]


async def test_callbacks_signed_with_a_shared_key_are_accepted_and_unknown_keys_refused(app: App) -> None:
    async with FakeTwilio(callback_delay_s=0.0) as fake:
        fake.shared_key = (KEY_ID, KEY_SECRET, "HMAC_SHA256")
        await send_via_service(fake, app, ["+8613800000001"])
        for _ in range(100):
            if len(app.events) >= 2:
                break
            await asyncio.sleep(0.02)
        assert not fake.callback_failures
        assert {e.state for e in app.events} == {DeliveryState.SENT, DeliveryState.DELIVERED}
        fake.shared_key = ("webhooks_sharedkey_rotated_away", KEY_SECRET, "HMAC_SHA256")
        status = await fake.post_signed(f"{app.url}/webhooks/twilio/inbound", {"MessageSid": "SM" + "a" * 32})
        assert status == 403
