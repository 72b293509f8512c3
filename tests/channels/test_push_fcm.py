"""FCM HTTP v1 against the local fake, including its OAuth token endpoint: real HTTP, real RS256 JWTs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.push_fcm import FcmChannel
from channels.tokens import TokenService
from tests.fakes.faults import Faults
from tests.fakes.fcm import PROJECT, FakeFcm, service_account
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
TOKENS = {f"cXk3:APA91b{i:06d}" for i in range(40)}
STALE = "cXk3:APA91b-uninstalled"
BODY = {
    "title": "山洪红色预警",
    "text": "沿河群众立即转移。",
    "warning_id": "w-1",
    "severity": "red",
    "hazard": "flood",
}


def out(i: int, token: str, ttl: float = 3600, body: dict[str, Any] | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", token, "410526100201", BODY if body is None else body, NOW + ttl)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeFcm]:
    async with FakeFcm(clock=clock, registered=set(TOKENS), unregistered={STALE}) as f:
        yield f


@pytest.fixture
async def tokens(clock: ManualClock) -> AsyncIterator[TokenService]:
    s = TokenService(clock)
    yield s
    await s.close()


def adapter(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock, sa: dict[str, Any] | None = None
) -> FcmChannel:
    return FcmChannel(
        PROJECT, sa or fake.new_service_account(), tokens=tokens, api_base=fake.base_url, clock=clock
    )


async def send(a: FcmChannel, batch: Sequence[Outgoing]) -> list[SendResult]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_batch_shares_one_oauth_token_and_sets_ttl(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    tks = sorted(TOKENS)[:30]
    r = await send(adapter(fake, tokens, clock), [out(i, t, ttl=1800.5) for i, t in enumerate(tks)])
    assert all(x.ok and (x.provider_ref or "").startswith(f"projects/{PROJECT}/messages/") for x in r)
    assert fake.token_calls == 1 and all(fake.delivered[t] == 1 for t in tks)
    msg = next(m for m in fake.messages if m["token"] == tks[0])
    assert msg["android"]["ttl"] == "1800s" and msg["android"]["priority"] == "HIGH"
    assert msg["data"]["delivery_id"] == "d-0" and msg["apns"]["headers"]["apns-expiration"] == str(
        int(NOW + 1800.5)
    )


async def test_unregistered_and_invalid_tokens_fail_alone(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    good = sorted(TOKENS)[0]
    batch = [out(0, good), out(1, STALE), out(2, "garbage-token"), out(3, "has space"), out(4, good, ttl=0)]
    r = await send(adapter(fake, tokens, clock), batch)
    assert [x.ok for x in r] == [True, False, False, False, False]
    assert [x.code for x in r[1:]] == ["invalid_recipient"] * 3 + ["expired"]
    assert "UNREGISTERED" in (r[1].reason or "") and "INVALID_ARGUMENT" in (r[2].reason or "")
    assert not any(x.retryable for x in r) and fake.requests == 3


async def test_rejected_oauth_token_is_refreshed_once_and_resent(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    a = adapter(fake, tokens, clock)
    tks = sorted(TOKENS)[:10]
    assert (await a.send_batch([out(0, tks[0])]))[0].ok
    fake.revoke_all_tokens()  # 401 UNAUTHENTICATED for the cached token
    r = await send(a, [out(i, t) for i, t in enumerate(tks[1:], 1)])
    assert all(x.ok for x in r) and fake.token_calls == 2
    assert all(fake.delivered[t] == 1 for t in tks)


async def test_quota_and_unavailable_are_retryable_with_retry_after(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    fake.faults = Faults(storm_every_s=1000, storm_length_s=1000, retry_after_s=9)
    [q] = await send(adapter(fake, tokens, clock), [out(0, sorted(TOKENS)[0])])
    assert (
        q.code == "rate_limited"
        and q.retryable
        and q.retry_after_s == 9.0
        and "QUOTA_EXCEEDED" in (q.reason or "")
    )
    fake.faults = Faults(error_rate=1.0, error_status=503)
    [u] = await send(adapter(fake, tokens, clock), [out(0, sorted(TOKENS)[0])])
    assert u.code == "server_error" and u.retryable and "UNAVAILABLE" in (u.reason or "")
    assert sum(fake.delivered.values()) == 0


async def test_under_5xx_and_429_storms_every_device_gets_exactly_one(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    fake.faults = Faults(error_rate=0.3, error_status=500, storm_every_s=0.3, storm_length_s=0.05, seed=11)
    a = adapter(fake, tokens, clock)
    pending = [out(i, t) for i, t in enumerate(sorted(TOKENS))]
    rounds = 0
    try:
        while pending and rounds < 200:
            rounds += 1
            results = await a.send_batch(pending)
            assert all(r.ok or r.retryable for r in results)
            failed = {r.delivery_id for r in results if not r.ok}
            pending = [o for o in pending if o.delivery_id in failed]
            await asyncio.sleep(0.02)
    finally:
        await a.stop()
    assert not pending and rounds > 1
    assert all(fake.delivered[t] == 1 for t in TOKENS)


async def test_unknown_service_account_fails_every_delivery_as_provider_fault(
    fake: FakeFcm, tokens: TokenService, clock: ManualClock
) -> None:
    a = adapter(fake, tokens, clock, sa=service_account(fake.token_uri))  # key the fake never saw
    r = await send(a, [out(0, sorted(TOKENS)[0]), out(1, sorted(TOKENS)[1])])
    assert all(x.code == "auth" and x.provider_fault and not x.retryable for x in r)
    assert fake.requests == 0
