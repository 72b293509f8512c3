"""The Twilio adapter against the local fake: real HTTP, the real SDK, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from channels.base import Outgoing
from channels.sms_text import encoding, segments
from channels.sms_twilio import TwilioSms
from tests.fakes.faults import Faults
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
TEXT = "【县应急管理局】山洪红色预警：请立即转移到安全地带。回复1表示收到。"


def out(i: int, to: str | None = None, *, ttl: float = 600, text: str = TEXT) -> Outgoing:
    return Outgoing(f"d-{i}", to or f"+86138{i:08d}", "v", {"text": text}, NOW + ttl)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(callbacks=False, unsubscribed=frozenset({"+8613900000002"})) as f:
        yield f


def adapter(fake: FakeTwilio, **kw: object) -> TwilioSms:
    params: dict[str, object] = {
        "from_": "+15005550006",
        "api_base": fake.base_url,
        "status_callback_base": "https://warn.example.gov.cn",
        "clock": ManualClock(NOW),
        **kw,
    }
    return TwilioSms(ACCOUNT_SID, AUTH_TOKEN, **params)  # type: ignore[arg-type]


async def test_sends_with_validity_callback_and_segments(fake: FakeTwilio) -> None:
    a = adapter(fake)
    try:
        [r] = await a.send_batch([out(1, ttl=600.7)])
    finally:
        await a.stop()
    assert r.ok and r.provider_ref and r.provider_ref.startswith("SM") and r.segments == 1
    [got] = fake.log
    assert got.to == "+8613800000001" and got.body == TEXT
    assert got.validity_period == 600
    assert got.status_callback == "https://warn.example.gov.cn/webhooks/twilio/status?d=d-1"


async def test_validity_period_is_clamped_and_expired_is_not_sent(fake: FakeTwilio) -> None:
    a = adapter(fake)
    try:
        long, gone = await a.send_batch([out(1, ttl=86_400), out(2, ttl=0.5)])
    finally:
        await a.stop()
    assert long.ok and fake.log[0].validity_period == 36000
    assert not gone.ok and not gone.retryable and gone.code == "expired"
    assert fake.requests == 1


async def test_bad_input_fails_per_delivery_and_the_rest_go_out(fake: FakeTwilio) -> None:
    a = adapter(fake)
    batch = [
        out(1),
        out(2, "13800000000"),  # no +country code: never sent
        out(3, "+8613900000002"),  # unsubscribed at Twilio: 21610
        out(4, text=""),
        out(5, "+86 138 0000"),
        out(6),
    ]
    try:
        rs = await a.send_batch(batch)
    finally:
        await a.stop()
    assert [r.delivery_id for r in rs] == [o.delivery_id for o in batch]
    assert [r.ok for r in rs] == [True, False, False, False, False, True]
    assert rs[1].code == "invalid_number" and "E.164" in (rs[1].reason or "")
    assert rs[2].code == "unsubscribed" and "21610" in (rs[2].reason or "") and not rs[2].retryable
    assert not rs[2].provider_fault
    assert rs[3].code == "bad_body" and rs[4].code == "invalid_number"
    assert fake.requests == 3  # the invalid ones never reached the provider
    assert sum(fake.accepted.values()) == 2


async def test_provider_says_invalid_number(fake: FakeTwilio) -> None:
    """A number we pass as E.164 but Twilio rejects (21211): final, clear reason, not the provider's fault."""
    a = adapter(fake)
    try:
        [r] = await a.send_batch([out(1, "+15005550001")])
    finally:
        await a.stop()
    assert not r.ok and not r.retryable and not r.provider_fault and r.code == "invalid_number"
    assert "21211" in (r.reason or "") and "Invalid 'To' Phone Number" in (r.reason or "")
    assert fake.requests == 1


async def test_wrong_credentials_are_a_provider_fault(fake: FakeTwilio) -> None:
    a = TwilioSms(ACCOUNT_SID, "wrong", from_="+15005550006", api_base=fake.base_url)
    try:
        [r] = await a.send_batch([out(1, ttl=10**10)])
    finally:
        await a.stop()
    assert not r.ok and not r.retryable and r.provider_fault and r.code == "auth"
    assert "20003" in (r.reason or "")


async def test_429_is_retryable_and_a_5xx_before_creating_is_looked_up_then_retryable(
    fake: FakeTwilio,
) -> None:
    a = adapter(fake)
    try:
        fake.faults = Faults(storm_every_s=1000, storm_length_s=1000, retry_after_s=7)
        [limited] = await a.send_batch([out(1)])
        fake.faults = Faults(error_rate=1.0, error_status=503)
        [unavailable] = await a.send_batch([out(2)])
        fake.faults = Faults(error_rate=1.0, error_status=504)
        [gateway] = await a.send_batch([out(3)])
        fake.faults = Faults()
        [again] = await a.send_batch([out(3)])  # what the dispatch layer does with a retryable result
    finally:
        await a.stop()
    assert limited.retryable and limited.code == "rate_limited" and limited.retry_after_s == 7
    assert limited.lookup is None and fake.lookups == 2  # a 429 is certain: no lookup
    for r in (unavailable, gateway):  # a 5xx may follow a create: looked up, found nothing, so retryable
        assert r.retryable and r.code == "server_error" and r.lookup == "not_found"
    assert again.ok and fake.accepted[("+8613800000003", TEXT)] == 1 and sum(fake.accepted.values()) == 1
    assert fake.requests == 4  # one POST each: the SDK's own retrying client never re-sent one


@pytest.mark.parametrize("fault", ["after_error_rate", "hang_rate", "drop_rate"])
async def test_accepted_then_failed_is_found_by_lookup_and_not_sent_again(
    fake: FakeTwilio, fault: str
) -> None:
    # The message is created, then Twilio answers 500, never answers (read timeout) or resets the connection.
    fake.faults = Faults(**{fault: 1.0})  # type: ignore[arg-type]
    a = adapter(fake, read_timeout_s=0.3)
    try:
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    [created] = fake.log
    assert r.ok and r.lookup == "found" and r.provider_ref == created.sid and r.segments == 1
    assert "found by lookup" in (r.reason or "") and fake.lookups == 1
    assert fake.accepted[("+8613800000001", TEXT)] == 1 and fake.requests == 1


async def test_lookup_matches_the_body_not_just_the_number(fake: FakeTwilio) -> None:
    a = adapter(fake, read_timeout_s=0.3)
    try:
        [other] = await a.send_batch([out(1, text="另一条预警 another warning")])  # same number, earlier
        fake.faults = Faults(error_rate=1.0)  # this one fails before it is created
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert other.ok and not r.ok and r.retryable and r.lookup == "not_found"
    assert fake.accepted[("+8613800000001", TEXT)] == 0


async def test_lookup_failing_too_leaves_it_ambiguous_never_retryable(fake: FakeTwilio) -> None:
    fake.faults = Faults(after_error_rate=1.0, lookup_error_rate=1.0)
    a = adapter(fake)
    try:
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert not r.ok and not r.retryable and not r.provider_fault
    assert r.code == "ambiguous" and r.lookup == "unresolved" and fake.lookups == 1
    assert (r.reason or "").startswith("ambiguous:") and "lookup failed" in (r.reason or "")
    assert fake.accepted[("+8613800000001", TEXT)] == 1  # it was in fact created


async def test_the_fake_lists_messages_as_twilio_does(fake: FakeTwilio) -> None:
    fake.callbacks, fake.callback_delay_s = True, 0.0
    a = adapter(fake, status_callback_base=None)
    try:
        await a.send_batch([out(1), out(2)])
        msgs = await a._client.messages.list_async(to="+8613800000002")  # type: ignore[union-attr]
        today = datetime.now(UTC)
        none_sent = await a._client.messages.list_async(date_sent_after=today)  # type: ignore[union-attr]
    finally:
        await a.stop()
    [m] = msgs
    assert (m.to, m.body, m.sid) == ("+8613800000002", TEXT, fake.log[1].sid) and m.date_created is not None
    assert none_sent == []  # no status callback ran, so none has a date_sent: DateSent matches nothing


async def test_connection_refused_is_retryable() -> None:
    async with FakeTwilio() as f:
        url = f.base_url
    a = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, from_="+1500", api_base=url, clock=ManualClock(NOW))
    try:
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert r.retryable and r.code == "connect_failed" and r.provider_fault


def test_segments_gsm7_and_ucs2() -> None:
    assert encoding("Flood warning: move to high ground") == "GSM-7"
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("a" * 306) == 2
    assert segments("{" * 80) == 1 and segments("{" * 81) == 2  # extension characters take two septets
    assert encoding(TEXT) == "UCS-2"
    assert segments("预" * 70) == 1 and segments("预" * 71) == 2 and segments("预" * 134) == 2
    assert segments("预" * 135) == 3
    assert segments("a" * 69 + "预") == 1 and segments("😀" * 36) == 2  # emoji: two UTF-16 units
