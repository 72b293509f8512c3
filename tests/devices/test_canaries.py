"""Provider canaries (issue 18) against the strict fakes: a passing provider stamps its link, a failing one
goes stale with the provider's code (Twilio's HTTP 401 for a bad token, Tencent's template in review)."""

from __future__ import annotations

from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from tests.cli.test_channels_check import TEMPLATE, config
from tests.fakes.fcm import FakeFcm
from tests.fakes.tencent_sms import FakeTencentSms
from tests.fakes.twilio import FakeTwilio
from tests.fakes.wechat import FakeWeChat
from warnengine.db.store import Store
from warnengine.devices.canaries import provider_link, run_provider_canaries


async def test_a_failing_canary_makes_its_provider_stale_with_the_code(store: Store, tmp_path: Path) -> None:
    async with (
        FakeTencentSms(templates={"1234567": TEMPLATE}) as tencent,
        FakeTwilio() as twilio,
        FakeFcm(registered=set()) as fcm,
        FakeWeChat() as wx,
    ):
        tencent.pending_templates["7654321"] = TEMPLATE
        good = tmp_path / "good.yaml"
        good.write_text(yaml.safe_dump(config(tencent, twilio, fcm, wx), allow_unicode=True))
        first = store.clock.now()
        assert set((await run_provider_canaries(store, good, first)).values()) == {None}
        bad = tmp_path / "bad.yaml"
        cfg = config(tencent, twilio, fcm, wx, template_id="7654321", twilio_token="0" * 32)
        bad.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        results = await run_provider_canaries(store, bad, first + 86400)
    assert results[provider_link("twilio")] == "credential: twilio account fetch HTTP 401"
    assert str(results[provider_link("tencent")]).startswith("template: template 7654321 not approved")
    assert results[provider_link("fcm")] is None and results[provider_link("wechat-oa")] is None
    record = {r["link"]: r for r in await store.link_tests()}
    twilio_row = record[provider_link("twilio")]
    assert (twilio_row["kind"], twilio_row["last_success"], twilio_row["failures"]) == ("provider", first, 1)
    assert record[provider_link("fcm")]["last_success"] == first + 86400
    stamp = REGISTRY.get_sample_value(
        "warnengine_link_test_last_success_timestamp_seconds", {"link": provider_link("twilio")}
    )
    assert stamp == first  # stale: the gauge stays at the last success
