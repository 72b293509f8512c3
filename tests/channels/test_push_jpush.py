"""JPush v3 against the local fake: real HTTP, Basic auth, JPush's error codes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from channels.base import Outgoing, SendResult
from channels.push_jpush import JPushChannel
from tests.fakes.faults import Faults
from tests.fakes.jpush import APP_KEY, MASTER_SECRET, FakeJPush, content_bytes
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


async def test_the_text_goes_once_per_part_and_long_text_fits_4000_bytes(fake: FakeJPush) -> None:
    long_text = "沿河群众立即转移，" * 400  # ~10.8 kB of UTF-8
    body = {**BODY, "text": long_text}
    rid = sorted(DEVICES)[0]
    [short, cut] = await send(adapter(fake), [out(0, rid), out(1, rid, body=body)])
    assert short.ok and cut.ok, cut.reason
    first, second = fake.pushes
    assert json.dumps(first, ensure_ascii=False).count(BODY["text"]) == 2  # notification.alert, msg_content
    assert "alert" not in first["notification"]["android"] and "alert" not in first["notification"]["ios"]
    assert content_bytes(second) <= 4000 and second["notification"]["alert"].endswith("…")
    assert long_text.startswith(second["message"]["msg_content"][:-1])


async def test_ttl_is_capped_at_an_ordinary_accounts_three_days(fake: FakeJPush) -> None:
    rid = sorted(DEVICES)[0]
    [r] = await send(adapter(fake), [out(0, rid, ttl=30 * 86400)])
    assert r.ok and fake.pushes[0]["options"]["time_to_live"] == 3 * 86400
    # An adapter set for a VIP account against an ordinary one: JPush refuses the push, not silently.
    [r] = await send(adapter(fake, max_ttl_s=864000), [out(1, rid, ttl=30 * 86400)])
    assert not r.ok and "1003" in (r.reason or "") and not r.retryable


async def test_a_push_over_4000_bytes_is_refused_by_the_fake() -> None:
    """The fake's limit itself: what an adapter without the cut would meet."""
    async with FakeJPush(registered=set(DEVICES)) as fake, aiohttp.ClientSession() as http:
        big = {"platform": "all", "audience": {"registration_id": [sorted(DEVICES)[0]]}}
        big["message"] = {"msg_content": "转" * 1400}
        auth = {"Authorization": "Basic " + base64.b64encode(f"{APP_KEY}:{MASTER_SECRET}".encode()).decode()}
        async with http.post(f"{fake.base_url}/v3/push", json=big, headers=auth) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == 1005
