"""Tencent SMS callbacks: the fake pushes status reports and replies to our routes as Tencent does; events
reach the record through the ack stage by the SerialNo stored at dispatch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from channels.base import ChannelEvent
from channels.config import PoolConfig, ProviderConfig, RetryConfig
from channels.sms_tencent_webhook import tencent_routes
from tests.acks.persons import rest_accounted
from tests.channels.test_sms_twilio_webhook import _free_port
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from tests.plan.conftest import planned_village
from warnengine.acks.people import REF_MISMATCH, UNKNOWN_REF, apply_channel_events
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.sender import Senders, build_pool
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Channel, DeliveryState

TOKEN = "cb-" + "k" * 29
REPORT = {
    "user_receive_time": "2026-07-01 08:03:04",
    "nationcode": "86",
    "mobile": "13800000001",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "用户短信送达成功",
    "sid": "2028:00000000000000000001",
}


@dataclass
class App:
    url: str
    events: list[ChannelEvent] = field(default_factory=list)

    @property
    def status_url(self) -> str:
        return f"{self.url}/webhooks/tencent-sms/{TOKEN}/status"

    @property
    def reply_url(self) -> str:
        return f"{self.url}/webhooks/tencent-sms/{TOKEN}/reply"


async def serve(allow_from: tuple[str, ...] = ()) -> tuple[App, web.AppRunner]:
    got = App("")

    async def on_events(events: list[ChannelEvent]) -> None:
        got.events.extend(events)

    web_app = web.Application()
    web_app.add_routes(tencent_routes(TOKEN, on_events, allow_from=allow_from))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    port = await _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    got.url = f"http://127.0.0.1:{port}"
    return got, runner


@pytest.fixture
async def app() -> AsyncIterator[App]:
    got, runner = await serve()
    yield got
    await runner.cleanup()


async def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with s.post(url, **kw) as r:
            return r.status, await r.json()


async def test_reports_and_replies_become_events(app: App) -> None:
    failed = {**REPORT, "mobile": "13800000002", "report_status": "FAIL", "errmsg": "MK:0005"}
    assert await post(app.status_url, [REPORT, failed]) == (200, {"result": 0, "errmsg": "OK"})
    reply = {"extend": "", "mobile": "13800000001", "nationcode": "86", "sign": "县应急管理局"}
    assert (await post(app.reply_url, {**reply, "text": "收到", "time": 1457336869}))[0] == 200
    ok, bad, answer = app.events
    assert (ok.kind, ok.state, ok.provider_ref, ok.sender, ok.delivery_id) == (
        "status", DeliveryState.DELIVERED, REPORT["sid"], "+8613800000001", None
    )  # fmt: skip
    assert bad.state is DeliveryState.FAILED and bad.reason and bad.reason.startswith("MK:0005")
    assert (answer.kind, answer.sender, answer.ack_hint, answer.at) == (
        "reply",
        "+8613800000001",
        True,
        1457336869,
    )


async def test_wrong_token_or_address_is_403_before_the_body(app: App) -> None:
    wrong = app.status_url.replace(TOKEN, "x" * len(TOKEN))
    assert (await post(wrong, [REPORT]))[0] == 403
    assert app.events == []
    elsewhere, runner = await serve(allow_from=("203.0.113.0/24",))  # Tencent's, not 127.0.0.1
    try:
        assert (await post(elsewhere.status_url, [REPORT]))[0] == 403 and elsewhere.events == []
    finally:
        await runner.cleanup()
    mine, runner = await serve(allow_from=("127.0.0.0/8",))
    try:
        assert (await post(mine.status_url, [REPORT]))[0] == 200 and len(mine.events) == 1
    finally:
        await runner.cleanup()
    with pytest.raises(ValueError, match="≥ 16"):
        tencent_routes("short", app.events.extend)  # type: ignore[arg-type]


async def test_bad_bodies_are_400_and_bad_items_are_skipped(app: App) -> None:
    status, body = await post(app.status_url, b"not json")
    assert status == 400 and body["result"] == 1 and "JSON" in body["errmsg"]
    assert (await post(app.status_url, "a string"))[0] == 400
    no_sid = {k: v for k, v in REPORT.items() if k != "sid"}
    odd = {**REPORT, "report_status": "MAYBE"}
    assert (await post(app.status_url, [no_sid, odd, {**REPORT, "mobile": "+86abc"}, REPORT]))[0] == 200
    assert [e.provider_ref for e in app.events] == [REPORT["sid"]]  # only the whole one


async def _wait(cond: Any, what: str) -> None:
    for _ in range(200):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _sms_rows(store: Store, warning_id: str) -> dict[str, Any]:
    d = t.deliveries.c
    query = select(t.deliveries).where(d.warning_id == warning_id, d.channel == "sms")
    async with store.engine.connect() as conn:
        return {r.delivery_id: r for r in await conn.execute(query)}


async def test_a_tencent_sms_reaches_delivered_and_a_reply_acknowledges(
    store: Store, small_county: County, app: App
) -> None:
    """Dispatch through the Tencent adapter stores each SerialNo; the fake's pushed reports then move the
    deliveries to delivered (one FAIL to failed), a reply "收到" reaches the household, and forged reports —
    an unknown sid, a real sid for another number — are dead-lettered with the reason, never applied."""
    w, directory = await planned_village(store, small_county, "w-tencent-cb")
    village = w.areas[0].codes[0]
    people = sorted(
        (r for r in (await _sms_rows(store, w.warning_id)).values() if r.household_id),
        key=lambda r: r.delivery_id,
    )
    unlucky, answering = people[0], people[1]
    params = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "sdk_app_id": SDK_APP_ID, "template_id": "1"}
    fake = FakeTencentSms(
        status_callback=app.status_url,
        reply_callback=app.reply_url,
        report_failures={unlucky.recipient: ("MK:0005", "用户关机")},
    )
    async with fake:
        cfg = PoolConfig(
            Channel.SMS,
            [
                ProviderConfig(
                    "sms-tencent",
                    "tencent",
                    {**params, "sign_name": "应急", "endpoint": fake.base_url, "clock": store.clock},
                )
            ],
            RetryConfig(attempts=2, initial_s=0.01, max_s=0.05, jitter_s=0.01),
        )
        senders = Senders({Channel.SMS: build_pool(cfg, clock=store.clock)})
        policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=60, max_attempts=3)
        try:
            sent = await dispatch_people([(w, village)], store, senders, policy, (Channel.SMS,))
        finally:
            await senders.stop()
        await fake.callbacks.settle()
        # As the pipeline does: the API published the events, the ack stage applies them after dispatch.
        reports = list(app.events)
        app.events.clear()
        assert await fake.reply(answering.recipient, "收到") == 200
    rows = await _sms_rows(store, w.warning_id)
    assert sent.sent == len(rows) == len(reports) > 2
    assert all(r.provider_ref and r.provider_ref.startswith("2028:") for r in rows.values())
    counts = await apply_channel_events(reports, store, directory)
    assert counts["applied"] == len(rows) and not counts.get(UNKNOWN_REF)
    rows = await _sms_rows(store, w.warning_id)
    assert rows[unlucky.delivery_id].state == "failed" and "MK:0005" in rows[unlucky.delivery_id].reason
    assert {r.state for k, r in rows.items() if k != unlucky.delivery_id} == {"delivered"}

    [reply] = app.events
    await rest_accounted(store, w.warning_id, [answering.person_id])  # 到人: the answer completes the home
    counts = await apply_channel_events([reply], store, directory)
    assert counts["acknowledged"] >= 1 and counts["reply_acknowledged"] == 1
    async with store.engine.connect() as conn:
        [home] = await conn.execute(
            select(t.warning_households).where(
                t.warning_households.c.warning_id == w.warning_id,
                t.warning_households.c.household_id == answering.household_id,
            )
        )
    assert (home.state, home.reached_by) == ("reached", "sms")

    third = rows[people[2].delivery_id]
    fail, someone = DeliveryState.FAILED, "+8613800000009"
    forged = [  # a sid never sent; a real sid reported for another number
        ChannelEvent("tencent", "status", 99.0, state=fail, provider_ref="2028:999", sender=someone),
        ChannelEvent("tencent", "status", 99.0, state=fail, provider_ref=third.provider_ref, sender=someone),
    ]
    counts = await apply_channel_events(forged, store, directory)
    assert (counts[UNKNOWN_REF], counts[REF_MISMATCH], counts["applied"]) == (1, 1, 0)
    assert (await _sms_rows(store, w.warning_id))[third.delivery_id].state == "delivered"
    async with store.engine.connect() as conn:
        dead = list(await conn.execute(select(t.dead_letters).where(t.dead_letters.c.stage == "acks")))
    assert {d.reason for d in dead} == {UNKNOWN_REF, REF_MISMATCH}
    assert any(d.key == "2028:999" and "no delivery was sent under it" in d.detail for d in dead)
