"""WeCom app messages to staff against the local WeCom fake: real HTTP, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.tokens import TokenService
from channels.wechat_common import ACK_KEY
from channels.wecom_app import WeComAppChannel
from tests.fakes.faults import Faults
from tests.fakes.wechat import AGENT_ID, CORP_SECRET, CORPID, FakeWeChat
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
STAFF = {f"grid{i:04d}" for i in range(2500)}


def body(warning: str = "w-1", text: str = "山洪红色预警：沿河群众立即转移。") -> dict[str, Any]:
    return {
        "title": "山洪红色预警",
        "text": text,
        "warning_id": warning,
        "severity": "red",
        "hazard": "flood",
    }


def out(i: int, userid: str, b: dict[str, Any] | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", userid, "410526100201", b or body(), NOW + 3600)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock, staff=set(STAFF), unlicensed={"nolicense01"}) as f:
        yield f


@pytest.fixture
async def tokens(clock: ManualClock) -> AsyncIterator[TokenService]:
    s = TokenService(clock)
    yield s
    await s.close()


def adapter(fake: FakeWeChat, tokens: TokenService, **kw: Any) -> WeComAppChannel:
    return WeComAppChannel(CORPID, CORP_SECRET, AGENT_ID, tokens=tokens, api_base=fake.base_url, **kw)


async def send(a: WeComAppChannel, batch: Sequence[Outgoing]) -> list[SendResult]:
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_one_card_request_per_message_with_per_user_results(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    batch = [out(0, "grid0001"), out(1, "left-the-county"), out(2, "nolicense01"), out(3, "grid0002")]
    r = await send(adapter(fake, tokens), batch)
    assert [x.ok for x in r] == [True, False, False, True]
    assert r[1].code == "invalid_recipient" and r[2].code == "unlicensed" and not r[1].retryable
    assert r[0].provider_ref and r[0].provider_ref == r[3].provider_ref  # one WeCom message
    assert fake.requests["wecom"] == 1
    [sent] = fake.sent_bodies
    assert sent["touser"] == "grid0001|left-the-county|nolicense01|grid0002" and sent["agentid"] == AGENT_ID
    card = sent["template_card"]
    assert card["card_type"] == "button_interaction" and card["task_id"].startswith("wn")
    assert card["button_list"] == [{"text": "收到", "style": 1, "key": ACK_KEY}]
    assert "url" not in str(card)  # nothing a link scanner could open and "confirm"
    assert fake.count("grid0001") == 1 and fake.count("grid0002") == 1


async def test_different_messages_split_and_big_batches_chunk_at_1000(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    users = sorted(STAFF)
    batch = [out(i, u) for i, u in enumerate(users)] + [out(9999, users[0], body("w-2", "另一条预警"))]
    r = await send(adapter(fake, tokens), batch)
    assert all(x.ok for x in r) and len(r) == len(batch)
    assert fake.requests["wecom"] == 4  # 1000 + 1000 + 500 for w-1, 1 for w-2
    assert fake.count(users[0]) == 2 and all(fake.count(u) == 1 for u in users[1:])


async def test_nobody_valid_is_81013_for_each(fake: FakeWeChat, tokens: TokenService) -> None:
    r = await send(adapter(fake, tokens), [out(0, "ghost1"), out(1, "ghost2"), out(2, "bad|user")])
    assert [x.code for x in r] == ["invalid_recipient"] * 3
    assert "81013" in (r[0].reason or "") and not any(x.retryable for x in r)
    assert fake.requests["wecom"] == 1  # "bad|user" would address two people: refused locally


async def test_expired_token_is_refreshed_and_the_send_retried_once(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    a = adapter(fake, tokens)
    assert (await a.send_batch([out(0, "grid0001")]))[0].ok
    fake.expire_all_tokens()  # 42001
    r = await send(a, [out(1, "grid0002")])
    assert r[0].ok and fake.token_calls["wecom"] == 2 and fake.count("grid0002") == 1


async def test_text_mode_resend_after_no_answer_is_deduplicated_by_wecom(
    fake: FakeWeChat, tokens: TokenService
) -> None:
    fake.faults = Faults(hang_rate=1.0, hang_s=2.0)
    a = adapter(fake, tokens, msgtype="text", read_timeout_s=0.2)
    [first] = await a.send_batch([out(0, "grid0001")])
    assert not first.ok and first.code == "ambiguous" and first.retryable  # safe: duplicate check is on
    fake.faults = Faults()
    [again] = await send(a, [out(0, "grid0001")])
    assert again.ok
    assert fake.count("grid0001") == 1 and fake.sent_bodies[-1]["enable_duplicate_check"] == 1
    assert "收到请回复 1" in fake.sent_bodies[-1]["text"]["content"]


async def test_a_resend_to_a_different_touser_list_is_not_a_duplicate(
    clock: ManualClock, tokens: TokenService
) -> None:
    """WeCom's duplicate check is on the whole request JSON: why text goes one request per user."""
    async with FakeWeChat(clock=clock, staff=set(STAFF)) as fake:
        a = adapter(fake, tokens, msgtype="text")
        await a.send_batch([out(0, "grid0001"), out(1, "grid0002")])
        await send(a, [out(0, "grid0001")])  # the same request as the first one to grid0001
        assert len(fake.sent_bodies) == 3 and all("|" not in b["touser"] for b in fake.sent_bodies)
        assert fake.count("grid0001") == fake.count("grid0002") == 1


async def test_the_first_20_bytes_say_what_it_is_and_how_to_answer(
    clock: ManualClock, tokens: TokenService
) -> None:
    async with FakeWeChat(clock=clock, staff=set(STAFF), workbench_home=True) as fake:
        [r] = await send(adapter(fake, tokens, msgtype="text"), [out(0, "grid0001")])
        assert r.ok and fake.plugin_seen["grid0001"].rstrip() == "红色预警回复1"


async def test_card_resend_after_no_answer_is_not_offered(fake: FakeWeChat, tokens: TokenService) -> None:
    fake.faults = Faults(hang_rate=1.0, hang_s=2.0)
    [r] = await send(adapter(fake, tokens, read_timeout_s=0.2), [out(0, "grid0001")])
    assert not r.ok and r.code == "ambiguous" and not r.retryable


async def test_rate_limit_and_server_errors_are_retryable(fake: FakeWeChat, tokens: TokenService) -> None:
    fake.faults = Faults(storm_every_s=1000, storm_length_s=1000)
    [limited] = await send(adapter(fake, tokens), [out(0, "grid0001")])
    assert limited.code == "rate_limited" and limited.retryable
    fake.faults = Faults(error_rate=1.0, error_status=500)
    [failed] = await send(adapter(fake, tokens), [out(0, "grid0001")])
    assert failed.code == "server_error" and failed.retryable and failed.provider_fault
    assert fake.count("grid0001") == 0
