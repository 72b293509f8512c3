"""WeChat Official Account contract in strict mode (issue 23): tokens shared across worker processes,
typed template fields, and which errcodes end where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.tokens import TokenService
from channels.wechat_oa import WeChatOAChannel
from tests.fakes.wechat import OA_APPID, OA_SECRET, TEMPLATE_ID, FakeWeChat
from tests.fakes.wechat_oa_rules import field_invalid
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
OPENID = "oAbCdEfGhIjKlMnOpQrStUv00001"
BODY: dict[str, Any] = {
    "title": "山洪灾害红色预警：沿河各村立即组织群众转移",
    "text": "预计未来3小时内本村将出现山洪。\n请沿河群众立即转移到安全地带。\t注意避险",
    "warning_id": "w-410526-0001",
    "severity": "extreme",  # not one of our colours: must still become Chinese
    "hazard": "flood",
}


def out(i: int, body: dict[str, Any] = BODY) -> Outgoing:
    return Outgoing(f"d-{i}", OPENID, "410526100201", body, NOW + 3600)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock, followers={OPENID}) as f:
        yield f


async def send_as_worker(
    fake: FakeWeChat, clock: ManualClock, batch: list[Outgoing], **kw: Any
) -> SendResult:
    """One worker process: its own token service and adapter, as each Faust worker has."""
    tokens = TokenService(clock)
    a = WeChatOAChannel(OA_APPID, OA_SECRET, TEMPLATE_ID, tokens=tokens, api_base=fake.base_url, **kw)
    try:
        [r] = await a.send_batch(batch)
        return r
    finally:
        await a.stop()
        await tokens.close()


async def test_three_workers_share_one_token_instead_of_invalidating_each_other(
    fake: FakeWeChat, clock: ManualClock
) -> None:
    body = {**BODY, "text": "请沿河群众立即转移", "severity": "red"}
    first = [await send_as_worker(fake, clock, [out(i, body)]) for i in range(3)]
    clock.advance(301)  # past the 5 minutes a replaced /cgi-bin/token token survives
    again = [await send_as_worker(fake, clock, [out(10 + i, body)]) for i in range(3)]
    assert all(r.ok for r in first + again)
    assert fake.stable_calls == 6 and len({t for t, (a, _) in fake.tokens.items() if a == "oa"}) == 1


async def test_values_are_fitted_to_their_types_newlines_and_english_severity_included(
    fake: FakeWeChat, clock: ManualClock
) -> None:
    fields = {"thing1": "title", "phrase2": "severity", "thing3": "text", "phrase4": "hazard"}
    r = await send_as_worker(fake, clock, [out(0)], fields=fields, mode="template")
    assert r.ok, r.reason
    [sent] = fake.sent_bodies
    assert not any(field_invalid(k, v["value"]) for k, v in sent["data"].items())
    assert sent["data"]["phrase2"]["value"] == "预警" and "\n" not in sent["data"]["thing3"]["value"]
    red = await send_as_worker(fake, clock, [out(1, {**BODY, "severity": "red"})], fields=fields)
    assert red.ok and fake.sent_bodies[-1]["data"]["phrase2"]["value"] == "红色预警"


async def test_47003_is_a_provider_fault_so_the_delivery_moves_on(
    fake: FakeWeChat, clock: ManualClock
) -> None:
    # A back-office template whose field types do not match our mapping: WeChat refuses the data.
    r = await send_as_worker(fake, clock, [out(0)], fields={"time4": "title"})
    assert not r.ok and r.code == "bad_template_data" and r.provider_fault and not r.retryable
    assert "47003" in (r.reason or "") and not fake.delivered


async def test_45009_daily_quota_is_not_retried_but_failed_over(fake: FakeWeChat, clock: ManualClock) -> None:
    fake.daily_quota_exhausted = True
    r = await send_as_worker(fake, clock, [out(0)])
    assert not r.ok and r.code == "quota_exceeded" and r.provider_fault and not r.retryable
