"""Tencent Cloud SMS contract in strict mode (issue 23): approved templates with real variables, the
blacklist code the API really sends, and limits as provider faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.base import Outgoing, SendResult
from channels.sms_tencent import TencentSms
from channels.sms_tencent_template import TemplateError
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from warnengine.clock import ManualClock

NOW = 1_800_000_000.0
TEMPLATE = "{1}发布{2}，请{3}。收到请回复1。"
BODY = {
    "title": "山洪灾害红色预警",
    "text": "预计未来3小时内沿河各村将出现山洪，请立即转移到安全地带。收到请回复1。",
    "severity": "red",
    "hazard": "flash_flood",
    "warning_id": "w-1",
}


def out(i: int, to: str | None = None) -> Outgoing:
    return Outgoing(f"d-{i}", to or f"+86138{i:08d}", "v", BODY, NOW + 600)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTencentSms]:
    strict = FakeTencentSms(
        templates={"1234567": TEMPLATE}, blacklisted=frozenset({"+8613900000009"}), number_daily_limit=1
    )
    async with strict as f:
        yield f


async def send(fake: FakeTencentSms, batch: list[Outgoing], **kw: Any) -> list[SendResult]:
    a = TencentSms(
        SECRET_ID,
        SECRET_KEY,
        sdk_app_id=SDK_APP_ID,
        template_id="1234567",
        sign_name="县应急管理局",
        endpoint=fake.base_url,
        clock=ManualClock(NOW),
        **kw,
    )
    try:
        return await a.send_batch(batch)
    finally:
        await a.stop()


async def test_warning_goes_out_as_short_variables_of_an_approved_template(fake: FakeTencentSms) -> None:
    rs = await send(fake, [out(1), out(2)], template=TEMPLATE, area="某县应急局")
    assert all(r.ok for r in rs), [r.reason for r in rs]
    [(_number, params)] = [k for k in fake.accepted if k[0] == "+8613800000001"]
    values = params.split("|")
    assert len(values) == 3 and all(0 < len(v) <= 12 for v in values) and values[0] == "某县应急局"


async def test_the_whole_text_in_one_variable_is_refused_by_tencent(fake: FakeTencentSms) -> None:
    [r] = await send(fake, [out(1)])  # no template configured: the legacy one-variable send
    assert not r.ok and r.provider_fault and "TemplateParamSetNotMatchApprovedTemplate" in (r.reason or "")


def test_an_unapprovable_template_is_refused_at_start() -> None:
    for bad in ("{1}", "{1}{2}发布", "{1}发布{3}"):
        with pytest.raises(TemplateError):
            TencentSms(
                SECRET_ID, SECRET_KEY, sdk_app_id=SDK_APP_ID, template_id="1", sign_name="x", template=bad
            )


async def test_blacklisted_number_is_unsubscribed_and_limits_fail_over(fake: FakeTencentSms) -> None:
    [blocked] = await send(fake, [out(9, "+8613900000009")], template=TEMPLATE)
    assert blocked.code == "unsubscribed" and not blocked.provider_fault and not blocked.retryable
    assert (await send(fake, [out(1)], template=TEMPLATE))[0].ok
    [limited] = await send(fake, [out(2, "+8613800000001")], template=TEMPLATE)  # its daily limit: 1
    assert not limited.ok and limited.provider_fault and "PhoneNumberDailyLimit" in (limited.reason or "")
    fake.app_daily_limit = 1
    [app] = await send(fake, [out(3)], template=TEMPLATE)
    assert not app.ok and app.provider_fault and app.code == "quota_exceeded"
