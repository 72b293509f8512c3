"""Official Account template/subscribe messages against the local WeChat fake: real HTTP, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.tokens import TokenService
from channels.wechat_oa import WeChatOAChannel
from tests.fakes.faults import Faults
from tests.fakes.wechat import OA_APPID, OA_SECRET, TEMPLATE_ID, FakeWeChat
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
FOLLOWERS = {f"oAbCdEfGhIjKlMnOpQrStUv{i:05d}" for i in range(40)}
GONE = "oGoneGoneGoneGoneGoneGone0001"  # known to WeChat, unfollowed
UNKNOWN = "oUnknownUnknownUnknownUnk0001"
BODY = {
    "title": "山洪灾害红色预警",
    "text": "预计未来3小时内本村将出现山洪，请沿河群众立即转移到安全地带。",
    "warning_id": "w-410526-0001",
    "severity": "red",
    "hazard": "flood",
    "expires_at": NOW + 3600,
}


def out(i: int, openid: str, body: dict[str, Any] | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", openid, "410526100201", BODY if body is None else body, NOW + 3600)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock, followers=set(FOLLOWERS), unfollowed={GONE}) as f:
        yield f


@pytest.fixture
async def tokens(clock: ManualClock) -> AsyncIterator[TokenService]:
    s = TokenService(clock)
    yield s
    await s.close()


def adapter(fake: FakeWeChat, tokens: TokenService, **kw: Any) -> WeChatOAChannel:
    return WeChatOAChannel(OA_APPID, OA_SECRET, TEMPLATE_ID, tokens=tokens, api_base=fake.base_url, **kw)


async def send(a: WeChatOAChannel, batch: Sequence[Outgoing]) -> list[SendResult]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_template_message_fields_and_one_delivery_each(fake: FakeWeChat, tokens: TokenService) -> None:
    a = adapter(fake, tokens, detail_url="https://warn.example.gov.cn/w/{warning_id}")
    openids = sorted(FOLLOWERS)[:5]
    results = await send(a, [out(i, o) for i, o in enumerate(openids)])
    assert [r.delivery_id for r in results] == [f"d-{i}" for i in range(5)]
    assert all(r.ok and r.provider_ref for r in results)
    assert all(fake.count(o) == 1 for o in openids)
    body = fake.sent_bodies[0]
    assert body["template_id"] == TEMPLATE_ID and body["url"] == "https://warn.example.gov.cn/w/w-410526-0001"
    data = body["data"]
    assert data["thing1"]["value"] == "山洪灾害红色预警"
    assert data["phrase2"]["value"] == "红色预警"
    assert len(data["thing3"]["value"]) == 20 and data["thing3"]["value"].endswith("…")  # cut to thing's 20
    assert data["time4"]["value"] == "2027-01-15 17:00"  # expiry in Beijing time
    assert fake.token_calls["oa"] == 1


async def test_bad_recipients_fail_alone_with_clear_reasons(fake: FakeWeChat, tokens: TokenService) -> None:
    good = sorted(FOLLOWERS)[:2]
    batch = [
        out(0, good[0]),
        out(1, UNKNOWN),
        out(2, GONE),
        out(3, "not an openid!"),
        out(4, good[1], {"title": "x"}),  # no text
        out(5, good[1]),
    ]
    r = await send(adapter(fake, tokens), batch)
    assert [x.ok for x in r] == [True, False, False, False, False, True]
    assert (r[1].code, r[2].code, r[3].code, r[4].code) == (
        "invalid_recipient",
        "not_following",
        "invalid_recipient",
        "bad_body",
    )
    assert "40003" in (r[1].reason or "") and "43004" in (r[2].reason or "")
    assert not any(x.retryable for x in r)
    assert fake.count(good[0]) == 1 and fake.count(good[1]) == 1
    assert fake.requests["template"] == 4  # the malformed openid and the empty body never left


async def test_rejected_token_is_refreshed_once_for_a_whole_batch(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    openids = sorted(FOLLOWERS)[:20]
    a = adapter(fake, tokens)
    assert all(r.ok for r in await a.send_batch([out(0, openids[0])]))
    fake.revoke_all_tokens()  # e.g. another process fetched a new token: ours answers 40001
    results = await send(a, [out(i, o) for i, o in enumerate(openids)])
    assert all(r.ok for r in results)
    assert fake.token_calls["oa"] == 2  # twenty 40001s, one refresh
    assert fake.count(openids[0]) == 2 and all(fake.count(o) == 1 for o in openids[1:])


async def test_under_5xx_and_rate_limit_storms_every_follower_gets_exactly_one(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    fake.faults = Faults(error_rate=0.3, error_status=503, storm_every_s=0.3, storm_length_s=0.05, seed=5)
    a = adapter(fake, tokens)
    pending = [out(i, o) for i, o in enumerate(sorted(FOLLOWERS))]
    retried = 0
    try:
        for _ in range(200):  # the dispatch layer's job, reduced to its essence: resend what is retryable
            results = await a.send_batch(pending)
            assert not [r for r in results if not r.ok and not r.retryable]
            failed = {r.delivery_id for r in results if not r.ok}
            retried += len(failed)
            pending = [o for o in pending if o.delivery_id in failed]
            if not pending:
                break
            await asyncio.sleep(0.02)
    finally:
        await a.stop()
    assert not pending and retried > 0
    assert all(fake.count(o) == 1 for o in FOLLOWERS)


async def test_unanswered_request_is_ambiguous_not_retried(fake: FakeWeChat, tokens: TokenService) -> None:
    fake.faults = Faults(hang_rate=1.0, hang_s=2.0)
    openid = sorted(FOLLOWERS)[0]
    [r] = await send(adapter(fake, tokens, read_timeout_s=0.2), [out(0, openid)])
    assert not r.ok and r.code == "ambiguous" and not r.retryable
    assert fake.count(openid) == 1  # WeChat did deliver it: retrying would have sent it twice


async def test_subscribe_mode_needs_the_residents_consent(fake: FakeWeChat, tokens: TokenService) -> None:
    yes, no = sorted(FOLLOWERS)[:2]
    fake.subscribed.add(yes)
    r = await send(adapter(fake, tokens, mode="subscribe"), [out(0, yes), out(1, no)])
    assert r[0].ok and not r[1].ok and r[1].code == "not_subscribed" and not r[1].retryable
    assert fake.requests["subscribe"] == 2 and fake.count(yes) == 1 and fake.count(no) == 0


async def test_wrong_secret_fails_the_batch_as_a_provider_fault(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    a = WeChatOAChannel(OA_APPID, "wrong", TEMPLATE_ID, tokens=tokens, api_base=fake.base_url)
    r = await send(a, [out(0, sorted(FOLLOWERS)[0])])
    assert not r[0].ok and r[0].code == "auth" and r[0].provider_fault and not r[0].retryable
