"""FCM provider contract in strict mode: 401 kinds, wrong project, the 4096-byte payload limit (issue 23)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from channels.base import Outgoing, SendResult
from channels.push_fcm import FcmChannel
from channels.tokens import TokenService
from tests.fakes.fcm import MAX_PAYLOAD, PROJECT, FakeFcm, payload_bytes
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
ANDROID, IPHONE = "cXk3:APA91b-android-000001", "cXk3:APA91b-iphone-0000001"
BODY = {"title": "山洪红色预警", "text": "沿河群众立即转移。", "warning_id": "w-1", "severity": "red"}


def out(i: int, token: str, text: str | None = None) -> Outgoing:
    body = BODY if text is None else {**BODY, "text": text}
    return Outgoing(f"d-{i}", token, "410526100201", {**body, "hazard": "flood"}, NOW + 3600)


@pytest.fixture
async def fake() -> AsyncIterator[FakeFcm]:
    async with FakeFcm(clock=ManualClock(NOW), registered={ANDROID, IPHONE}) as f:
        f.apns_tokens.add(IPHONE)
        yield f


async def send(fake: FakeFcm, batch: Sequence[Outgoing], project: str = PROJECT) -> list[SendResult]:
    tokens = TokenService(ManualClock(NOW))
    a = FcmChannel(
        project, fake.new_service_account(), tokens=tokens, api_base=fake.base_url, clock=ManualClock(NOW)
    )
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()
        await tokens.close()


async def test_third_party_auth_error_is_a_provider_fault_not_an_oauth_refresh(fake: FakeFcm) -> None:
    fake.apns_broken = True
    [r] = await send(fake, [out(0, IPHONE)])
    assert not r.ok and r.code == "auth" and r.provider_fault and not r.retryable
    assert "THIRD_PARTY_AUTH_ERROR" in (r.reason or "")
    assert fake.token_calls == 1 and fake.requests == 1  # no refresh, no second send


async def test_wrong_project_is_permission_denied_and_a_provider_fault(fake: FakeFcm) -> None:
    [r] = await send(fake, [out(0, ANDROID)], project="someone-elses-project")
    assert not r.ok and r.code == "auth" and r.provider_fault and not r.retryable
    assert "PERMISSION_DENIED" in (r.reason or "") and not fake.delivered


async def test_long_text_is_cut_to_fit_fcms_4096_byte_payload(fake: FakeFcm) -> None:
    long_text = "沿河群众立即转移，" * 400  # ~10.8 kB of UTF-8
    [r] = await send(fake, [out(0, ANDROID, long_text)])
    assert r.ok, r.reason
    [msg] = fake.messages
    assert payload_bytes(msg) <= MAX_PAYLOAD and msg["notification"]["body"].endswith("…")
    assert long_text.startswith(msg["notification"]["body"][:-1])
