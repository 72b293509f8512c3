"""JPush v3 against the local fake: real HTTP, Basic auth, JPush's error codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.push_jpush import JPushChannel
from tests.fakes.faults import Faults
from tests.fakes.jpush import APP_KEY, MASTER_SECRET, FakeJPush
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
DEVICES = {f"1a0018970a{i:08d}" for i in range(60)}
BODY = {
    "title": "山洪红色预警",
    "text": "沿河群众立即转移。",
    "warning_id": "w-1",
    "severity": "red",
    "hazard": "flood",
}


def out(i: int, rid: str, ttl: float = 3600, body: dict[str, Any] | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", rid, "410526100201", BODY if body is None else body, NOW + ttl)


@pytest.fixture
async def fake() -> AsyncIterator[FakeJPush]:
    async with FakeJPush(registered=set(DEVICES)) as f:
        yield f


def adapter(fake: FakeJPush, secret: str = MASTER_SECRET, **kw: Any) -> JPushChannel:
    return JPushChannel(APP_KEY, secret, api_base=fake.base_url, clock=ManualClock(NOW), **kw)


async def send(a: JPushChannel, batch: Sequence[Outgoing]) -> list[SendResult]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_one_push_per_device_with_ttl_and_delivery_id(fake: FakeJPush) -> None:
    rid = sorted(DEVICES)[0]
    [r] = await send(adapter(fake), [out(7, rid, ttl=1800.9)])
    assert r.ok and r.provider_ref
    [push] = fake.pushes
    assert push["audience"] == {"registration_id": [rid]} and push["platform"] == "all"
    assert push["options"]["time_to_live"] == 1800
    assert push["notification"]["android"]["title"] == "山洪红色预警"
    assert push["notification"]["android"]["extras"]["delivery_id"] == "d-7"
    assert push["message"]["extras"]["delivery_id"] == "d-7"  # what the app acks with, through the API
    assert fake.delivered[rid] == 1


async def test_unknown_and_malformed_devices_fail_alone(fake: FakeJPush) -> None:
    rid = sorted(DEVICES)[0]
    batch = [
        out(0, rid),
        out(1, "ffffffffffffffff"),
        out(2, "not a reg id"),
        out(3, rid, ttl=-5),
        out(4, rid, body={}),
    ]
    r = await send(adapter(fake), batch)
    assert [x.ok for x in r] == [True, False, False, False, False]
    assert [x.code for x in r[1:]] == ["invalid_recipient", "invalid_recipient", "expired", "bad_body"]
    assert "1011" in (r[1].reason or "") and not any(x.retryable for x in r)
    assert fake.requests == 2 and fake.delivered[rid] == 1


async def test_rate_limit_carries_the_reset_time(fake: FakeJPush) -> None:
    fake.faults = Faults(storm_every_s=1000, storm_length_s=1000, retry_after_s=7)
    [r] = await send(adapter(fake), [out(0, sorted(DEVICES)[0])])
    assert r.code == "rate_limited" and r.retryable and r.retry_after_s == 7.0


async def test_wrong_master_secret_is_a_provider_fault(fake: FakeJPush) -> None:
    [r] = await send(adapter(fake, "wrong"), [out(0, sorted(DEVICES)[0])])
    assert r.code == "auth" and r.provider_fault and not r.retryable and "1004" in (r.reason or "")


async def test_under_5xx_and_429_storms_every_device_gets_exactly_one(fake: FakeJPush) -> None:
    fake.faults = Faults(error_rate=0.3, error_status=500, storm_every_s=0.3, storm_length_s=0.05, seed=3)
    a = adapter(fake)
    pending = [out(i, rid) for i, rid in enumerate(sorted(DEVICES))]
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
    assert all(fake.delivered[d] == 1 for d in DEVICES)


async def test_audience_batch_mode_sends_one_request_per_thousand(fake: FakeJPush) -> None:
    rids = sorted(DEVICES)
    r = await send(adapter(fake, audience_batch=True), [out(i, rid) for i, rid in enumerate(rids)])
    assert all(x.ok for x in r) and fake.requests == 1
    [push] = fake.pushes
    assert len(push["audience"]["registration_id"]) == len(rids)
    assert "delivery_id" not in push["message"]["extras"]  # shared message: the app acks by warning id
    assert all(fake.delivered[d] == 1 for d in rids)
