"""The central access-token service against the local WeChat and FCM fakes: real HTTP, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from channels.tokens import (
    FcmTokenSource,
    TokenError,
    TokenService,
    WeChatOATokenSource,
    WeComTokenSource,
)
from tests.fakes.fcm import FakeFcm, service_account
from tests.fakes.wechat import CORP_SECRET, CORPID, OA_APPID, OA_SECRET, FakeWeChat
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def wx(clock: ManualClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock) as f:
        yield f


@pytest.fixture
async def svc(clock: ManualClock) -> AsyncIterator[TokenService]:
    s = TokenService(clock, margin_s=300)
    yield s
    await s.close()


async def test_concurrent_callers_cause_exactly_one_refresh(wx: FakeWeChat, svc: TokenService) -> None:
    wx.token_delay_s = 0.05  # every caller arrives while the first fetch is still in flight
    source = WeChatOATokenSource(OA_APPID, OA_SECRET, base_url=wx.base_url)
    tokens = await asyncio.gather(*(svc.get(source) for _ in range(50)))
    assert len(set(tokens)) == 1
    assert wx.token_calls["oa"] == 1 and svc.fetches == 1


async def test_refreshes_before_expiry_on_the_injected_clock(
    wx: FakeWeChat, svc: TokenService, clock: ManualClock
) -> None:
    source = WeChatOATokenSource(OA_APPID, OA_SECRET, base_url=wx.base_url)
    first = await svc.get(source)
    clock.advance(7200 - 300 - 1)  # just inside the margin: still cached
    assert await svc.get(source) == first and wx.token_calls["oa"] == 1
    clock.advance(2)  # 299 s before WeChat would expire it: refreshed now, not after a 42001
    second = await svc.get(source)
    assert second != first and wx.token_calls["oa"] == 2
    assert wx.tokens[first][1] > clock.now()  # the old token had not yet expired at the fake


async def test_invalidate_forces_one_refresh_even_when_many_callers_saw_the_rejection(
    wx: FakeWeChat, svc: TokenService
) -> None:
    source = WeComTokenSource(CORPID, CORP_SECRET, base_url=wx.base_url)
    old = await svc.get(source)
    for _ in range(10):  # ten senders all got 40014 with the same token
        svc.invalidate(source, old)
    new = await asyncio.gather(*(svc.get(source) for _ in range(10)))
    assert len(set(new)) == 1 and new[0] != old
    svc.invalidate(source, old)  # a late rejection of the old token must not drop the new one
    assert await svc.get(source) == new[0]
    assert wx.token_calls["wecom"] == 2


async def test_call_refreshes_once_and_retries_once(wx: FakeWeChat, svc: TokenService) -> None:
    source = WeChatOATokenSource(OA_APPID, OA_SECRET, base_url=wx.base_url)
    seen: list[str] = []

    async def fn(token: str) -> bool:
        seen.append(token)
        return token in wx.tokens  # "valid" at the fake

    await svc.get(source)
    wx.revoke_all_tokens()
    assert await svc.call(source, fn, lambda ok: not ok) is True
    assert len(seen) == 2 and seen[0] != seen[1] and wx.token_calls["oa"] == 2

    wx.token_ttl_s = 0  # every new token is already expired: one refresh, one retry, then give up
    wx.revoke_all_tokens()
    seen.clear()
    calls_before = wx.token_calls["oa"]
    assert await svc.call(source, lambda t: _never(seen, t), lambda ok: not ok) is False
    assert len(seen) == 2 and wx.token_calls["oa"] == calls_before + 1


async def _never(seen: list[str], token: str) -> bool:
    seen.append(token)
    return False


async def test_bad_credentials_are_final_and_unreachable_endpoint_is_retryable(
    wx: FakeWeChat, svc: TokenService
) -> None:
    with pytest.raises(TokenError) as bad:
        await svc.get(WeChatOATokenSource(OA_APPID, "wrong-secret", base_url=wx.base_url))
    assert not bad.value.retryable and "40125" in bad.value.reason
    with pytest.raises(TokenError) as down:
        await svc.get(WeComTokenSource(CORPID, CORP_SECRET, base_url="http://127.0.0.1:9"))
    assert down.value.retryable


async def test_fcm_service_account_jwt_is_verified_by_the_token_endpoint(
    clock: ManualClock, svc: TokenService
) -> None:
    async with FakeFcm(clock=clock) as fcm:
        good = FcmTokenSource.from_service_account(fcm.new_service_account())
        token = await svc.get(good)
        assert token.startswith("ya29.") and token in fcm.tokens and fcm.token_calls == 1
        # A key the fake does not know (say, a deleted one): invalid_grant, a configuration fault.
        stranger = FcmTokenSource.from_service_account(
            {
                **service_account(fcm.token_uri),
                "client_email": "gone@county-warn-test.iam.gserviceaccount.com",
            }
        )
        with pytest.raises(TokenError) as e:
            await svc.get(stranger)
        assert not e.value.retryable and "invalid_grant" in e.value.reason
        # Same email, wrong key: the signature check, not the issuer lookup, refuses it.
        forged = FcmTokenSource.from_service_account(
            {**service_account(fcm.token_uri), "client_email": good.client_email}
        )
        other = TokenService(clock)
        try:
            with pytest.raises(TokenError, match="Signature"):
                await other.get(forged)
        finally:
            await other.close()
        assert fcm.token_calls == 3
