"""dispatch_people against the real record: outcomes by kind, and channels without credentials."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from channels.base import Outgoing, SendResult
from channels.config import PoolConfig, ProviderConfig, RetryConfig
from tests.fakes.faults import Faults
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.plan.conftest import planned_village
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.people import AMBIGUOUS_FLAG, dispatch_people
from warnengine.dispatch.sender import Senders, build_pool
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Channel, Severity
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule

RED_SMS = DisseminationPolicy(
    rules=(Rule(name="t", hazards=("any",), severities=(Severity.RED,), residents=Residents.ALL),)
)


async def test_sent_retry_failed_and_ambiguous(store: Store, small_county: County) -> None:
    w, _ = await planned_village(store, small_county, "w-dispatch")
    village = w.areas[0].codes[0]
    outcomes = ["ok", "retry", "final", "ambiguous"]
    seen: list[Outgoing] = []

    async def provider(channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:
        assert channel is Channel.SMS
        seen.extend(batch)
        out = []
        for i, o in enumerate(batch):
            kind = outcomes[i % 4]
            out.append(
                SendResult(
                    o.delivery_id,
                    kind == "ok",
                    kind == "retry",
                    None if kind == "ok" else f"{kind} reason",
                    code="ambiguous" if kind == "ambiguous" else None,
                )
            )
        return out

    policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=60, max_attempts=3)
    res = await dispatch_people([(w, village)], store, provider, policy, (Channel.SMS,))
    assert res.due == len(seen) > 4 and all("山洪" in o.body["title"] + o.body["text"] for o in seen)
    async with store.engine.connect() as conn:
        rows = {
            r.delivery_id: r
            for r in await conn.execute(select(t.deliveries).where(t.deliveries.c.channel == "sms"))
        }
    for i, o in enumerate(seen):
        row, kind = rows[o.delivery_id], outcomes[i % 4]
        expected = {"ok": "sent", "retry": "pending", "final": "failed", "ambiguous": "sent"}[kind]
        assert row.state == expected and row.attempts == 1, (kind, row.state)
        if kind in ("retry", "final"):
            assert row.reason == f"{kind} reason"
        if kind == "ambiguous":  # sent as far as anyone may act on it, and flagged for the duty room
            assert row.reason == f"{AMBIGUOUS_FLAG}ambiguous reason" and row.sent_at is not None
        if kind == "ok":
            assert row.reason is None
    # A second pass within resend_after sends nothing; the retryable ones wait for their turn.
    seen.clear()
    assert (await dispatch_people([(w, village)], store, provider, policy, (Channel.SMS,))).due == 0


def test_channels_without_credentials_are_disabled_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    params = {"account_sid_env": "NO_SUCH_SID", "auth_token_env": "NO_SUCH"}
    provider = {"adapter": "sms-twilio", "params": params}
    path.write_text(yaml.safe_dump({"sms": {"providers": [provider]}}), encoding="utf-8")
    senders, skipped = Senders.available(path, env={})
    assert senders.pools == {} and "NO_SUCH_SID" in skipped["sms"]
    senders, skipped = Senders.available(path, env={"NO_SUCH_SID": "AC" + "0" * 32, "NO_SUCH": "x" * 32})
    assert "from_ or messaging_service_sid" in skipped["sms"]  # an adapter refusing its parameters
    params["from_"] = "+15005550006"
    path.write_text(yaml.safe_dump({"sms": {"providers": [provider]}}), encoding="utf-8")
    senders, skipped = Senders.available(path, env={"NO_SUCH_SID": "AC" + "0" * 32, "NO_SUCH": "x" * 32})
    assert list(senders.pools) == [Channel.SMS] and skipped == {}


def test_a_provider_without_credentials_is_disabled_not_its_channel(tmp_path: Path) -> None:
    """SMS with Twilio credentials missing but Tencent's present keeps SMS, through Tencent; app push with
    neither FCM nor JPush credentials is off whole, with both reasons."""
    path = tmp_path / "channels.yaml"
    twilio = {"account_sid_env": "NO_SUCH_SID", "auth_token_env": "NO_SUCH", "from_": "+15005550006"}
    tencent = {
        "secret_id_env": "TC_ID",
        "secret_key_env": "TC_KEY",
        "sdk_app_id": SDK_APP_ID,
        "template_id": "1",
        "sign_name": "应急",
    }
    app = [
        {"adapter": "fcm", "name": "fcm", "params": {"project_id": "p", "service_account_env": "NO_FCM_KEY"}},
        {"adapter": "jpush", "name": "jpush", "params": {"app_key_env": "NO_JPUSH", "master_secret": "x"}},
    ]
    data = {
        "sms": {
            "providers": [
                {"adapter": "sms-twilio", "name": "twilio", "params": twilio},
                {"adapter": "sms-tencent", "name": "tencent", "params": tencent},
            ]
        },
        "app": {"providers": app},
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    senders, skipped = Senders.available(path, env={"TC_ID": SECRET_ID, "TC_KEY": SECRET_KEY})
    assert list(senders.pools) == [Channel.SMS]
    assert [p.name for p in senders.pools[Channel.SMS].providers] == ["tencent"]
    assert set(skipped) == {"sms/twilio", "app"} and "NO_SUCH_SID" in skipped["sms/twilio"]
    assert "NO_FCM_KEY" in skipped["app"] and "NO_JPUSH" in skipped["app"]
    enabled = {  # warnengine_channel_provider_enabled: per provider, on the worker's /metrics
        (c, n): REGISTRY.get_sample_value(
            "warnengine_channel_provider_enabled", {"channel": c, "provider": n}
        )
        for c, n in (("sms", "tencent"), ("sms", "twilio"), ("app", "fcm"), ("app", "jpush"))
    }
    assert enabled == {("sms", "tencent"): 1, ("sms", "twilio"): 0, ("app", "fcm"): 0, ("app", "jpush"): 0}


@pytest.mark.parametrize("lookup_down", [False, True])
async def test_accepted_then_500_reaches_the_record_once_found_or_flagged(
    store: Store, small_county: County, lookup_down: bool
) -> None:
    """Real HTTP: Twilio creates each SMS, then answers 500. Found by the lookup → sent; with the lookup down
    too → sent and flagged. Either way one SMS per person, none at the secondary, none on the next pass."""
    w, _ = await planned_village(store, small_county, f"w-ambiguous-{lookup_down}")
    village = w.areas[0].codes[0]
    policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=0, max_attempts=3)
    faults = Faults(after_error_rate=1.0, lookup_error_rate=1.0 if lookup_down else 0.0)
    twilio = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_": "+15005550006"}
    tencent = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "sdk_app_id": SDK_APP_ID, "template_id": "1"}
    async with FakeTwilio(faults=faults, callbacks=False) as tw, FakeTencentSms() as tc:
        cfg = PoolConfig(
            Channel.SMS,
            [
                ProviderConfig(
                    "sms-twilio", "twilio-amb", {**twilio, "api_base": tw.base_url, "clock": store.clock}
                ),
                ProviderConfig(
                    "sms-tencent", "tencent-amb", {**tencent, "sign_name": "应急", "endpoint": tc.base_url}
                ),
            ],
            RetryConfig(attempts=3, initial_s=0.01, max_s=0.05, jitter_s=0.01),
        )
        senders = Senders({Channel.SMS: build_pool(cfg, clock=store.clock)})  # the record's (simulated) time
        try:
            first = await dispatch_people([(w, village)], store, senders, policy, (Channel.SMS,))
            again = await dispatch_people([(w, village)], store, senders, policy, (Channel.SMS,))
        finally:
            await senders.stop()
    async with store.engine.connect() as conn:
        rows = list(await conn.execute(select(t.deliveries).where(t.deliveries.c.channel == "sms")))
    assert first.due == first.sent == len(rows) > 0 and again.due == 0  # nothing pending: nothing resent
    assert all(r.state == "sent" for r in rows)
    if lookup_down:
        assert all((r.reason or "").startswith(AMBIGUOUS_FLAG) and "lookup failed" in r.reason for r in rows)
    else:
        assert all(r.reason is None for r in rows)
    assert sum(tw.accepted.values()) == len(rows) and all(n == 1 for n in tw.accepted.values())
    assert tw.lookups == len(rows) and not tc.accepted
