"""Fixtures of the channel tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from channels.base import ChannelEvent
from channels.voice_twilio_webhook import twilio_voice_routes
from tests.channels.test_sms_twilio_webhook import _free_port
from tests.fakes.twilio_voice import AUTH_TOKEN


@dataclass
class App:
    url: str
    events: list[ChannelEvent] = field(default_factory=list)


@pytest.fixture
async def voice_app() -> AsyncIterator[App]:
    got = App("")

    async def on_events(events: list[ChannelEvent]) -> None:
        got.events.extend(events)

    web_app = web.Application()
    port = await _free_port()
    got.url = f"http://127.0.0.1:{port}"
    web_app.add_routes(twilio_voice_routes(AUTH_TOKEN, on_events, public_base=got.url))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield got
    await runner.cleanup()
