"""Village group robots against the local WeCom fake: real HTTP, the 20/min limit on both sides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.wecom_robot import WeComRobotChannel
from tests.fakes.wechat import FakeWeChat
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
ROBOTS = {f"693a91f6-7xxx-4bc4-97a0-0ec2sifa{i:04d}" for i in range(10)}
KEY = sorted(ROBOTS)[0]


def body(severity: str = "red", text: str = "山洪红色预警：沿河群众立即转移。") -> dict[str, Any]:
    return {"title": "山洪预警", "text": text, "warning_id": "w-1", "severity": severity, "hazard": "flood"}


def out(i: int, key: str, b: dict[str, Any] | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", key, "410526100201", b or body(), NOW + 3600)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock, robots=set(ROBOTS)) as f:
        yield f


async def send(a: WeComRobotChannel, batch: Sequence[Outgoing]) -> list[SendResult]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_each_village_group_gets_one_text_and_red_mentions_all(
    fake: FakeWeChat, clock: ManualClock
) -> None:
    keys = sorted(ROBOTS)
    batch = [out(i, k) for i, k in enumerate(keys[:5])] + [out(5, keys[5], body("blue"))]
    r = await send(WeComRobotChannel(api_base=fake.base_url, clock=clock), batch)
    assert all(x.ok for x in r) and all(fake.robot_count(k) == 1 for k in keys[:6])
    red, blue = fake.sent_bodies[0], next(b for b in fake.sent_bodies if "mentioned_list" not in b["text"])
    assert red["msgtype"] == "text" and red["text"]["mentioned_list"] == ["@all"]
    assert red["text"]["content"].startswith("【山洪预警】\n山洪红色预警")
    assert "mentioned_list" not in blue["text"]


async def test_twenty_per_minute_per_robot_is_enforced_before_wecom_refuses(
    fake: FakeWeChat, clock: ManualClock
) -> None:
    a = WeComRobotChannel(api_base=fake.base_url, clock=clock)
    other = sorted(ROBOTS)[1]
    r = await a.send_batch([out(i, KEY) for i in range(25)] + [out(99, other)])
    ok = [x for x in r if x.ok]
    held = [x for x in r if not x.ok]
    assert len(ok) == 21 and len(held) == 5  # 20 for KEY, and the other robot is not held up
    assert all(x.code == "rate_limited" and x.retryable and x.retry_after_s == 60.0 for x in held)
    assert fake.robot_count(KEY) == 20 and fake.requests["robot"] == 21  # no request wasted on a 45009
    clock.advance(30)
    [still] = await a.send_batch([out(100, KEY)])
    assert not still.ok and still.retry_after_s == pytest.approx(30.0)
    clock.advance(30.01)
    r2 = await send(a, [out(200 + i, KEY) for i in range(5)])
    assert all(x.ok for x in r2) and fake.robot_count(KEY) == 25


async def test_45009_from_wecom_fills_the_window(fake: FakeWeChat, clock: ManualClock) -> None:
    fake.robot_limit = 0  # someone else has used up this robot's minute
    a = WeComRobotChannel(api_base=fake.base_url, clock=clock)
    [first] = await a.send_batch([out(0, KEY)])
    assert first.code == "rate_limited" and first.retryable and "45009" in (first.reason or "")
    fake.robot_limit = 20
    [second] = await send(a, [out(1, KEY)])
    assert not second.ok and fake.requests["robot"] == 1  # held locally for the rest of the minute


async def test_bad_keys_and_bodies_fail_alone(fake: FakeWeChat, clock: ManualClock) -> None:
    batch = [out(0, KEY), out(1, "removed-robot-key"), out(2, "x/../y"), out(3, KEY, {"title": "t"})]
    batch.append(out(4, sorted(ROBOTS)[2], body(text="暴雨" * 2000)))
    r = await send(WeComRobotChannel(api_base=fake.base_url, clock=clock), batch)
    assert [x.ok for x in r] == [True, False, False, False, True]
    assert [x.code for x in r[1:4]] == ["invalid_recipient", "invalid_recipient", "bad_body"]
    assert "93000" in (r[1].reason or "") and not any(x.retryable for x in r[1:4])
    long = max(fake.sent_bodies, key=lambda b: len(b["text"]["content"].encode()))["text"]["content"]
    assert 2040 < len(long.encode()) <= 2048 and long.endswith("…")  # cut to WeCom's 2048 bytes


async def test_markdown_for_wecom_only_groups(fake: FakeWeChat, clock: ManualClock) -> None:
    a = WeComRobotChannel(api_base=fake.base_url, clock=clock, msgtype="markdown")
    [r] = await send(a, [out(0, KEY)])
    assert r.ok
    md = fake.sent_bodies[0]["markdown"]["content"]
    assert md.startswith("## 山洪预警") and "红色" in md
