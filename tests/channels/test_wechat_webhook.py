"""WeChat OA and WeCom callbacks over real HTTP: signatures, AES payloads, what counts as an ack."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from channels.base import ChannelEvent
from channels.config import PoolConfig, ProviderConfig, RetryConfig
from channels.wechat_crypto import WXBizMsgCrypt
from channels.wechat_webhook import wechat_oa_routes, wecom_routes
from tests.fakes.faults import FakeServer
from tests.fakes.wechat import CORPID, OA_APPID, OA_SECRET, TEMPLATE_ID, FakeWeChat
from tests.fakes.wechat_callbacks import (
    encrypted_post,
    oa_event_xml,
    oa_query,
    oa_text_xml,
    wecom_card_click_xml,
)
from tests.plan.conftest import planned_village
from warnengine.acks.people import REF_MISMATCH, apply_channel_events
from warnengine.clock import ManualClock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.sender import Senders, build_pool
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Channel, DeliveryState

NOW = 1_800_000_000
TOKEN = "oa-callback-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters, as WeChat issues
OPENID = "oAbCdEfGhIjKlMnOpQrStUv00001"


class Sink:
    def __init__(self) -> None:
        self.events: list[ChannelEvent] = []
        self.fail = False

    async def __call__(self, events: list[ChannelEvent]) -> None:
        if self.fail:
            raise RuntimeError("kafka unavailable")
        self.events.extend(events)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def server(sink: Sink) -> AsyncIterator[FakeServer]:
    clock = ManualClock(NOW)
    app = web.Application()
    app.add_routes(wechat_oa_routes(TOKEN, sink, clock=clock))
    app.add_routes(
        wechat_oa_routes(TOKEN, sink, appid=OA_APPID, encoding_aes_key=AES_KEY, path="/oa-safe", clock=clock)
    )
    app.add_routes(wecom_routes(TOKEN, AES_KEY, CORPID, sink, clock=clock))
    s = FakeServer(app)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post(http: aiohttp.ClientSession, url: str, body: str) -> tuple[int, str]:
    async with http.post(url, data=body.encode(), headers={"Content-Type": "text/xml"}) as r:
        return r.status, await r.text()


async def test_oa_url_verification(server: FakeServer, http: aiohttp.ClientSession) -> None:
    url = f"{server.base_url}/webhooks/wechat/oa"
    async with http.get(url, params=oa_query(TOKEN, NOW, echostr="8675309")) as r:
        assert r.status == 200 and await r.text() == "8675309"
    forged = {**oa_query("not-our-token", NOW), "echostr": "x"}
    async with http.get(url, params=forged) as r:
        assert r.status == 403 and "signature" in (await r.json())["error"]
    async with http.get(url, params={"echostr": "x"}) as r:
        assert r.status == 403
    async with http.get(url, params=oa_query(TOKEN, NOW - 3600, echostr="x")) as r:  # replayed an hour later
        assert r.status == 403 and "window" in (await r.json())["error"]


async def test_oa_replies_become_reply_events_with_ack_hint(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    url = f"{server.base_url}/webhooks/wechat/oa?{urlencode(oa_query(TOKEN, NOW))}"
    for text in ("1", "收到", "ＯＫ", "山上还在下雨吗"):
        status, answer = await post(http, url, oa_text_xml(OPENID, text, NOW))
        assert status == 200 and answer == "success"
    assert [(e.kind, e.sender, e.text, e.ack_hint) for e in sink.events] == [
        ("reply", OPENID, "1", True),
        ("reply", OPENID, "收到", True),
        ("reply", OPENID, "ＯＫ", True),
        ("reply", OPENID, "山上还在下雨吗", False),
    ]
    assert sink.events[0].provider == "wechat-oa" and sink.events[0].at == NOW


async def test_link_opens_and_follows_are_never_acks(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    url = f"{server.base_url}/webhooks/wechat/oa?{urlencode(oa_query(TOKEN, NOW))}"
    for xml in (
        oa_event_xml(OPENID, "VIEW", NOW, EventKey="https://warn.example.gov.cn/w/w-1"),
        oa_event_xml(OPENID, "subscribe", NOW),
        oa_event_xml(OPENID, "CLICK", NOW, EventKey="menu_weather"),
    ):
        assert (await post(http, url, xml))[0] == 200
    assert sink.events == []


async def test_template_job_finish_reports_delivery(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    url = f"{server.base_url}/webhooks/wechat/oa?{urlencode(oa_query(TOKEN, NOW))}"
    await post(
        http, url, oa_event_xml(OPENID, "TEMPLATESENDJOBFINISH", NOW, MsgID="200163836", Status="success")
    )
    await post(
        http,
        url,
        oa_event_xml(OPENID, "TEMPLATESENDJOBFINISH", NOW, MsgID="200163840", Status="failed:user block"),
    )
    ok, blocked = sink.events
    assert (ok.kind, ok.state, ok.provider_ref) == ("status", DeliveryState.DELIVERED, "200163836")
    assert (blocked.state, blocked.reason, blocked.provider_ref) == (
        DeliveryState.FAILED,
        "user block",
        "200163840",
    )


async def test_forged_is_403_and_malformed_is_400_and_nothing_is_recorded(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    base = f"{server.base_url}/webhooks/wechat/oa"
    forged = f"{base}?{urlencode(oa_query('guessed-token', NOW))}"
    assert (await post(http, forged, oa_text_xml(OPENID, "1", NOW)))[0] == 403
    assert (await post(http, base, oa_text_xml(OPENID, "1", NOW)))[0] == 403  # unsigned
    good = f"{base}?{urlencode(oa_query(TOKEN, NOW))}"
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>'
    for bad in (
        "<xml><FromUserName>o1",
        "not xml at all",
        xxe,
        "<other/>",
        "<xml><MsgType>text</MsgType></xml>",
    ):
        status, answer = await post(http, good, bad)
        assert status == 400 and "error" in answer, bad
    assert sink.events == []


async def test_oa_safe_mode_decrypts_and_refuses_tampering(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    crypt = WXBizMsgCrypt(TOKEN, AES_KEY, OA_APPID)
    query, body = encrypted_post(crypt, oa_text_xml(OPENID, "收到", NOW), NOW)
    url = (
        f"{server.base_url}/oa-safe?{query}&{urlencode(oa_query(TOKEN, NOW, nonce='n0nce'))}&encrypt_type=aes"
    )
    assert await post(http, url, body) == (200, "success")
    assert [(e.sender, e.ack_hint) for e in sink.events] == [(OPENID, True)]
    tampered = body.replace("<![CDATA[", "<![CDATA[A", 3)
    assert (await post(http, url, tampered))[0] == 403
    assert len(sink.events) == 1


async def test_wecom_echostr_and_button_click(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    crypt = WXBizMsgCrypt(TOKEN, AES_KEY, CORPID)
    url = f"{server.base_url}/webhooks/wecom"
    echo = crypt.encrypt("1616140317555161061")
    params = {
        "msg_signature": crypt.sign(str(NOW), "n1", echo),
        "timestamp": str(NOW),
        "nonce": "n1",
        "echostr": echo,
    }
    async with http.get(url, params=params) as r:
        assert r.status == 200 and await r.text() == "1616140317555161061"
    query, body = encrypted_post(crypt, wecom_card_click_xml("grid0001", "ack", "wn0123", NOW), NOW)
    assert (await post(http, f"{url}?{query}", body))[0] == 200
    query, body = encrypted_post(crypt, wecom_card_click_xml("grid0002", "other_button", "wn0124", NOW), NOW)
    assert (await post(http, f"{url}?{query}", body))[0] == 200
    [e] = sink.events
    assert (e.provider, e.kind, e.sender, e.provider_ref, e.ack_hint) == (
        "wecom-app",
        "reply",
        "grid0001",
        "wn0123",
        True,
    )


async def test_wecom_refuses_other_receivers_wrong_keys_and_unsigned(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    url = f"{server.base_url}/webhooks/wecom"
    click = wecom_card_click_xml("grid0001", "ack", "wn1", NOW)
    other_corp = WXBizMsgCrypt(TOKEN, AES_KEY, "wwOTHERCORP000000")  # same secrets, another receiver id
    query, body = encrypted_post(other_corp, click, NOW)
    assert (await post(http, f"{url}?{query}", body))[0] == 403
    wrong_key = WXBizMsgCrypt(TOKEN, base64.b64encode(bytes(32)).decode().rstrip("="), CORPID)
    query, body = encrypted_post(wrong_key, click, NOW)
    assert (await post(http, f"{url}?{query}", body))[0] == 403
    query, body = encrypted_post(WXBizMsgCrypt(TOKEN, AES_KEY, CORPID), click, NOW)
    unsigned = "&".join(p for p in query.split("&") if not p.startswith("msg_signature"))
    assert (await post(http, f"{url}?{unsigned}", body))[0] == 403
    assert (await post(http, f"{url}?{query}", "<xml><Encrypt>"))[0] == 400
    assert sink.events == []


async def test_a_failed_handoff_is_503_so_wechat_retries(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    sink.fail = True
    url = f"{server.base_url}/webhooks/wechat/oa?{urlencode(oa_query(TOKEN, NOW))}"
    assert (await post(http, url, oa_text_xml(OPENID, "1", NOW)))[0] == 503


async def test_card_sent_by_the_adapter_is_acked_by_its_button(
    server: FakeServer, http: aiohttp.ClientSession, sink: Sink
) -> None:
    from channels.base import Outgoing
    from channels.tokens import TokenService
    from channels.wecom_app import WeComAppChannel
    from tests.fakes.wechat import AGENT_ID, CORP_SECRET

    clock = ManualClock(NOW)
    async with FakeWeChat(clock=clock, staff={"grid0001"}) as wx:
        tokens = TokenService(clock)
        a = WeComAppChannel(CORPID, CORP_SECRET, AGENT_ID, tokens=tokens, api_base=wx.base_url)
        body = {
            "title": "山洪红色预警",
            "text": "立即转移",
            "warning_id": "w-1",
            "severity": "red",
            "hazard": "flood",
        }
        try:
            [r] = await a.send_batch([Outgoing("d-1", "grid0001", "410526100201", body, NOW + 600)])
        finally:
            await a.stop()
            await tokens.close()
    assert r.ok
    card = wx.sent_bodies[0]["template_card"]
    [button] = card["button_list"]
    crypt = WXBizMsgCrypt(TOKEN, AES_KEY, CORPID)
    query, xml = encrypted_post(
        crypt, wecom_card_click_xml("grid0001", button["key"], card["task_id"], NOW + 30), NOW + 30
    )
    # the webhook's clock is at NOW; 30 s of skew is well inside the window
    assert (await post(http, f"{server.base_url}/webhooks/wecom?{query}", xml))[0] == 200
    [e] = sink.events
    assert e.sender == "grid0001" and e.provider_ref == card["task_id"] and e.ack_hint


async def test_template_receipts_reach_the_deliveries_by_msgid(
    store: Store, small_county: County, sink: Sink
) -> None:
    """The OA adapter's sends store WeChat's msgid; the fake then pushes TEMPLATESENDJOBFINISH to our
    route, and the ack stage maps each MsgID back: success → delivered, user block → failed with it. A
    receipt naming a msgid for another openid is not applied."""
    w, directory = await planned_village(store, small_county, "w-oa-receipts", ("wechat",))
    d = t.deliveries.c
    query = select(t.deliveries).where(d.warning_id == w.warning_id, d.channel == "wechat")

    async def wechat_rows() -> dict[str, Any]:
        async with store.engine.connect() as conn:
            return {r.delivery_id: r for r in await conn.execute(query)}

    planned = sorted(await wechat_rows())
    first = (await wechat_rows())[planned[0]]
    app = web.Application()
    app.add_routes(wechat_oa_routes(TOKEN, sink))  # the system clock: the fake signs with the time now
    ours = FakeServer(app)
    await ours.start()
    openids = {r.recipient for r in (await wechat_rows()).values()}
    wx = FakeWeChat(
        followers=openids,
        blocked={first.recipient},
        oa_callback=f"{ours.base_url}/webhooks/wechat/oa",
        oa_callback_token=TOKEN,
    )
    params = {"appid": OA_APPID, "secret": OA_SECRET, "template_id": TEMPLATE_ID}
    try:
        async with wx:
            cfg = PoolConfig(
                Channel.WECHAT,
                [ProviderConfig("wechat-oa", "wechat-oa", {**params, "api_base": wx.base_url})],
                RetryConfig(attempts=2, initial_s=0.01, max_s=0.05, jitter_s=0.01),
            )
            senders = Senders({Channel.WECHAT: build_pool(cfg, clock=store.clock)})
            policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=60, max_attempts=3)
            village = w.areas[0].codes[0]
            try:
                res = await dispatch_people([(w, village)], store, senders, policy, (Channel.WECHAT,))
            finally:
                await senders.stop()
            await wx.callbacks.settle()
    finally:
        await ours.stop()
    rows = await wechat_rows()
    assert res.sent == len(rows) == len(sink.events) > 1 and {s for s, _ in wx.callbacks.pushed} == {200}
    assert all(r.provider_ref for r in rows.values())
    counts = await apply_channel_events(sink.events, store, directory)
    assert counts["applied"] == len(rows)
    rows = await wechat_rows()
    assert (rows[first.delivery_id].state, rows[first.delivery_id].reason) == ("failed", "user block")
    assert {r.state for k, r in rows.items() if k != first.delivery_id} == {"delivered"}
    other = rows[planned[1]]
    someone = "oSomeoneElse00000000000001"
    stray = dataclasses.replace(sink.events[0], provider_ref=other.provider_ref, sender=someone)
    assert (await apply_channel_events([stray], store, directory))[REF_MISMATCH] == 1
