"""The Tencent Cloud SMS adapter against the local fake, which checks the TC3 signature independently."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.base import Outgoing
from channels.sms_tencent import TencentSms, tc3_signature
from tests.fakes.faults import Faults
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
TEXT = "【县应急管理局】山洪红色预警：请立即转移。"


def out(i: int, to: str | None = None, text: str = TEXT) -> Outgoing:
    return Outgoing(f"d-{i}", to or f"+86138{i:08d}", "v", {"text": text}, NOW + 600)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTencentSms]:
    async with FakeTencentSms(blacklisted=frozenset({"+8613900000009"})) as f:
        yield f


def adapter(fake: FakeTencentSms, secret_key: str = SECRET_KEY, read_timeout_s: float = 10) -> TencentSms:
    return TencentSms(
        SECRET_ID,
        secret_key,
        sdk_app_id=SDK_APP_ID,
        template_id="1234567",
        sign_name="县应急管理局",
        endpoint=fake.base_url,
        clock=ManualClock(NOW),
        read_timeout_s=read_timeout_s,
    )


def test_key_derivation_matches_tencent_documented_vector() -> None:
    # The worked example of Tencent Cloud's "Signature v3" page (CVM DescribeInstances, 2019-02-25).
    to_sign = (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    assert (
        tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "cvm", to_sign)
        == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


async def test_batches_per_number_results_and_bad_numbers(fake: FakeTencentSms) -> None:
    a = adapter(fake)
    batch = [out(i) for i in range(250)] + [out(900, "+8613900000009"), out(901, "13800000000"), out(1)]
    try:
        rs = await a.send_batch(batch)
    finally:
        await a.stop()
    assert [r.delivery_id for r in rs] == [o.delivery_id for o in batch]
    assert all(r.ok and r.provider_ref and r.segments == 1 for r in rs[:250])
    assert rs[250].code == "unsubscribed" and "PhoneNumberOnBlacklist" in (rs[250].reason or "")
    assert rs[251].code == "invalid_number" and fake.requests == 2  # 200, then 52 (the repeat has no twin)
    assert rs[252].ok  # same number again (another delivery): its own request, answered by number
    assert fake.accepted[("+8613800000001", TEXT)] == 2 and sum(fake.accepted.values()) == 251


async def test_wrong_key_is_an_auth_provider_fault(fake: FakeTencentSms) -> None:
    a = adapter(fake, secret_key="wrong")
    try:
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert not r.ok and r.provider_fault and not r.retryable and r.code == "auth"
    assert "AuthFailure.SignatureFailure" in (r.reason or "") and not fake.accepted


async def test_rate_limit_is_retryable_and_a_5xx_before_sending_is_looked_up_then_retryable(
    fake: FakeTencentSms,
) -> None:
    a = adapter(fake, read_timeout_s=0.3)
    try:
        fake.faults = Faults(storm_every_s=1000, storm_length_s=1000)
        [limited] = await a.send_batch([out(1)])
        fake.faults = Faults(error_rate=1.0, error_status=503)
        [unavailable] = await a.send_batch([out(2)])
        fake.faults = Faults()
        [again] = await a.send_batch([out(2)])  # what the dispatch layer does with a retryable result
    finally:
        await a.stop()
    assert limited.retryable and limited.code == "rate_limited" and limited.lookup is None
    assert unavailable.retryable and unavailable.code == "server_error" and unavailable.lookup == "not_found"
    assert again.ok and fake.accepted[("+8613800000002", TEXT)] == 1 and sum(fake.accepted.values()) == 1
    assert fake.lookups == 1


@pytest.mark.parametrize("fault", ["after_error_rate", "hang_rate", "drop_rate"])
async def test_accepted_then_failed_is_found_in_the_status_reports(fake: FakeTencentSms, fault: str) -> None:
    # Tencent sent them, then answered HTTP 500, never answered (read timeout) or reset the connection.
    fake.faults = Faults(**{fault: 1.0})  # type: ignore[arg-type]
    a = adapter(fake, read_timeout_s=0.3)
    try:
        rs = await a.send_batch([out(1), out(2), out(3, "+8613900000009")])  # the last one is blacklisted
    finally:
        await a.stop()
    serials = {r["PhoneNumber"]: r["SerialNo"] for _, _, r in fake.reports}
    assert [r.ok for r in rs] == [True, True, False] and fake.requests == 1 + 3  # one send, three pulls
    assert [r.lookup for r in rs] == ["found", "found", "not_found"]
    assert rs[0].provider_ref == serials["+8613800000001"] and rs[1].provider_ref == serials["+8613800000002"]
    assert rs[2].retryable  # nothing was sent to it: safe to try again, where it gets its own answer
    assert fake.accepted[("+8613800000001", TEXT)] == 1 and sum(fake.accepted.values()) == 2


async def test_session_context_tells_this_request_from_another_to_the_same_number(
    fake: FakeTencentSms,
) -> None:
    a = adapter(fake, read_timeout_s=0.3)
    try:
        [first] = await a.send_batch(
            [Outgoing("d-other", "+8613800000001", "v", {"text": "另一条"}, NOW + 600)]
        )
        fake.faults = Faults(error_rate=1.0)  # this one fails before it is sent
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert first.ok and fake.reports[0][2]["SessionContext"] == "d-other"
    assert not r.ok and r.retryable and r.lookup == "not_found"


async def test_pull_failing_too_leaves_it_ambiguous_never_retryable(fake: FakeTencentSms) -> None:
    fake.faults = Faults(after_error_rate=1.0, lookup_error_rate=1.0)
    a = adapter(fake)
    try:
        [r] = await a.send_batch([out(1)])
    finally:
        await a.stop()
    assert not r.ok and not r.retryable and not r.provider_fault
    assert r.code == "ambiguous" and r.lookup == "unresolved" and "InternalError" in (r.reason or "")
    assert fake.accepted[("+8613800000001", TEXT)] == 1 and fake.lookups == 1


async def test_report_wait_lets_a_late_report_arrive_before_deciding(fake: FakeTencentSms) -> None:
    fake.faults = Faults(after_error_rate=1.0)
    fake.report_delay_s = 0.3
    hasty, patient = adapter(fake), adapter(fake)
    patient._report_wait_s = 0.5
    try:
        [early] = await hasty.send_batch([out(1)])
        [late] = await patient.send_batch([out(2)])
    finally:
        await hasty.stop()
        await patient.stop()
    assert early.lookup == "not_found"  # the report had not come yet: why production sets a wait
    assert late.ok and late.lookup == "found"
