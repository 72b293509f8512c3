"""ProviderPool against the Twilio and Tencent fakes: real HTTP, real SDK, faults injected at the fakes.

Counts are taken at the fakes (what was created there), never from our own results.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from channels.base import Outgoing
from channels.config import BreakerConfig, ConfigError, PoolConfig, ProviderConfig, RetryConfig
from tests.fakes.faults import Faults
from tests.fakes.fcm import service_account
from tests.fakes.tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, FakeTencentSms
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from warnengine.clock import ManualClock, SystemClock
from warnengine.dispatch.sender import ProviderPool, Senders, build_pool
from warnengine.model import Channel

TEXT = "【县应急管理局】暴雨橙色预警：请做好防范，回复1表示收到。"


def out(i: int, to: str | None = None, *, expires_at: float | None = None) -> Outgoing:
    exp = expires_at if expires_at is not None else SystemClock().now() + 3600
    return Outgoing(f"d-{i}", to or f"+86138{i:08d}", "v", {"text": TEXT}, exp)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def retries(provider: str) -> float:
    return sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "warnengine_channel_retries"
        for s in m.samples
        if s.name == "warnengine_channel_retries_total" and s.labels["provider"] == provider
    )


def pool(
    tw: FakeTwilio,
    tc: FakeTencentSms,
    tag: str,
    *,
    attempts: int = 6,
    failures: int = 1000,
    reset_after_s: float = 30,
    clock: ManualClock | None = None,
    twilio_rate: float | None = None,
    read_timeout_s: float = 5.0,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> ProviderPool:
    cfg = PoolConfig(
        Channel.SMS,
        [
            ProviderConfig(
                "sms-twilio",
                f"twilio-{tag}",
                {
                    "account_sid": ACCOUNT_SID,
                    "auth_token": AUTH_TOKEN,
                    "from_": "+15005550006",
                    "api_base": tw.base_url,
                    "read_timeout_s": read_timeout_s,
                    **({"clock": clock} if clock else {}),
                },
                rate_per_s=twilio_rate,
            ),
            ProviderConfig(
                "sms-tencent",
                f"tencent-{tag}",
                {
                    "secret_id": SECRET_ID,
                    "secret_key": SECRET_KEY,
                    "sdk_app_id": SDK_APP_ID,
                    "template_id": "1",
                    "sign_name": "县应急管理局",
                    "endpoint": tc.base_url,
                    **({"clock": clock} if clock else {}),
                },
            ),
        ],
        RetryConfig(attempts=attempts, initial_s=0.01, max_s=0.2, jitter_s=0.02, max_retry_after_s=2),
        BreakerConfig(failures=failures, reset_after_s=reset_after_s),
    )
    return build_pool(
        cfg, clock=clock, sleep=sleep
    )  # adapters come from the warnengine.channels entry points


async def send(p: ProviderPool, batch: Sequence[Outgoing]) -> list:  # type: ignore[type-arg]
    try:
        return await p.send(batch)
    finally:
        await p.stop()


async def test_exactly_once_under_30pc_5xx_and_429_storms_and_every_retry_counted() -> None:
    # 30 % 5xx before creating, 10 % 5xx after creating (the ambiguous case, settled by the lookup), and a
    # storm of 20 consecutive 429s (Retry-After: 1) in every 100 requests.
    storms = Faults(
        error_rate=0.3,
        after_error_rate=0.1,
        storm_every_requests=100,
        storm_requests=20,
        retry_after_s=1,
        seed=11,
    )
    async with (
        FakeTwilio(faults=storms, callbacks=False) as tw,
        FakeTencentSms(faults=Faults(error_rate=0.3, after_error_rate=0.1)) as tc,
    ):
        good = [out(i) for i in range(300)]
        bad = [out(900, "12345"), out(901, "+15005550001")]
        batch = good[:150] + bad + good[150:]
        results = await send(pool(tw, tc, "storm", attempts=8), batch)
    assert [r.delivery_id for r in results] == [o.delivery_id for o in batch]
    by_id = {r.delivery_id: r for r in results}
    for o in good:
        assert by_id[o.delivery_id].ok, by_id[o.delivery_id]
        assert tw.accepted[(o.recipient, TEXT)] + tc.accepted[(o.recipient, "|".join([TEXT]))] == 1, o
    assert by_id["d-900"].code == "invalid_number" and by_id["d-901"].code == "invalid_number"
    assert "21211" in (by_id["d-901"].reason or "")
    refused = tw.responses[500] + tw.responses[429]
    assert tw.responses[500] > 50 and tw.responses[429] > 0  # the faults really happened
    failed_over = sum(tc.accepted.values())
    found = metric(
        "warnengine_delivery_ambiguous_total", channel="sms", provider="twilio-storm", outcome="found"
    )
    assert found > 10  # 500s after creating happened, and the lookup found each message
    # Every retryable answer was followed by exactly one retry, or (attempts used up) by the failover; a 500
    # after creating is not retryable once the lookup found the message.
    assert retries("twilio-storm") == refused - failed_over - found
    assert metric("warnengine_channel_retries_total", provider="twilio-storm", reason="rate_limited") > 0
    assert (
        metric("warnengine_channel_sends_total", provider="twilio-storm", outcome="ok") == 300 - failed_over
    )


async def test_failover_carries_traffic_while_primary_is_down_then_the_probe_brings_it_back() -> None:
    clock = ManualClock(SystemClock().now())
    async with FakeTwilio(callbacks=False) as tw, FakeTencentSms() as tc:
        await tw.set_down(True)
        p = pool(tw, tc, "down", attempts=3, failures=2, reset_after_s=30, clock=clock)
        try:
            first = await p.send([out(i) for i in range(40)])
            assert all(r.ok for r in first) and sum(tc.accepted.values()) == 40
            assert metric("warnengine_channel_breaker_state", provider="twilio-down") == 2  # open
            assert metric("warnengine_provider_failovers_total", channel="sms", provider="twilio-down") == 1
            tried = metric("warnengine_channel_sends_total", provider="twilio-down", outcome="retryable")
            assert tried == 40 * 2  # two failed calls opened the circuit: the third attempt skipped twilio

            second = await p.send([out(i) for i in range(40, 80)])  # circuit open: no time lost on twilio
            assert all(r.ok for r in second) and sum(tc.accepted.values()) == 80
            assert (
                metric("warnengine_channel_sends_total", provider="twilio-down", outcome="retryable") == tried
            )

            await tw.set_down(False)
            clock.advance(31)  # half-open: one probe, then the rest go back to the primary
            third = await p.send([out(i) for i in range(80, 120)])
        finally:
            await p.stop()
    assert all(r.ok for r in third) and sum(tw.accepted.values()) == 40 and sum(tc.accepted.values()) == 80
    assert metric("warnengine_channel_breaker_state", provider="twilio-down") == 0


async def test_ambiguous_timeouts_are_looked_up_and_never_resent_anywhere() -> None:
    async with (
        FakeTwilio(faults=Faults(hang_rate=0.3, seed=3), callbacks=False) as tw,
        FakeTencentSms() as tc,
    ):
        batch = [out(i) for i in range(60)]
        results = await send(pool(tw, tc, "hang", read_timeout_s=0.3), batch)
    found = [r for r in results if r.lookup == "found"]
    assert found and all(r.ok for r in results)  # the hung ones were created, and the lookup says so
    assert {r.provider_ref for r in found} <= {a.sid for a in tw.log}
    assert all(n == 1 for n in tw.accepted.values()) and sum(tw.accepted.values()) == 60  # each created once
    assert not tc.accepted  # and none sent again at the secondary
    assert metric("warnengine_channel_sends_total", provider="twilio-hang", outcome="ok") == 60
    got = metric(
        "warnengine_delivery_ambiguous_total", channel="sms", provider="twilio-hang", outcome="found"
    )
    assert got == len(found)


async def test_accepted_then_500_with_the_lookup_down_is_flagged_not_resent_nor_failed_over() -> None:
    faults = Faults(after_error_rate=1.0, lookup_error_rate=1.0)
    async with FakeTwilio(faults=faults, callbacks=False) as tw, FakeTencentSms() as tc:
        results = await send(pool(tw, tc, "unres"), [out(i) for i in range(5)])
    assert all(r.code == "ambiguous" and r.lookup == "unresolved" and not r.retryable for r in results)
    assert sum(tw.accepted.values()) == 5 and tw.requests == 5 and tw.lookups == 5  # one POST each
    assert not tc.accepted  # never failed over: the secondary would text them a second time
    assert retries("twilio-unres") == 0
    got = metric(
        "warnengine_delivery_ambiguous_total", channel="sms", provider="twilio-unres", outcome="unresolved"
    )
    assert got == 5


async def test_5xx_before_creating_is_looked_up_then_retried_and_delivered_once() -> None:
    async with FakeTwilio(faults=Faults(error_rate=1.0), callbacks=False) as tw, FakeTencentSms() as tc:

        async def sleep(s: float) -> None:
            tw.faults = Faults()  # the provider recovers before the retry

        results = await send(pool(tw, tc, "pre5xx", sleep=sleep), [out(i) for i in range(4)])
    assert all(r.ok and r.lookup is None for r in results)
    assert sum(tw.accepted.values()) == 4 and all(n == 1 for n in tw.accepted.values()) and not tc.accepted
    assert tw.requests == 8 and tw.lookups == 4 and retries("twilio-pre5xx") == 4
    labels = {"channel": "sms", "provider": "twilio-pre5xx", "outcome": "not_found"}
    assert metric("warnengine_delivery_ambiguous_total", **labels) == 4


async def test_bad_input_duplicates_and_expired_each_get_a_result_and_nothing_is_lost() -> None:
    now = SystemClock().now()
    opted_out = frozenset({"+8613900000001"})
    async with FakeTwilio(callbacks=False, unsubscribed=opted_out) as tw, FakeTencentSms() as tc:
        batch = [
            out(1),
            out(2, "not-a-number"),
            out(1),  # the same delivery again in one call
            out(3, "+8613900000001"),  # opted out at Twilio: final, not failed over
            out(4, expires_at=now - 1),
            Outgoing("d-5", "+8613800000005", "v", {"title": "no text"}, now + 60),
            out(6),
        ]
        results = await send(pool(tw, tc, "bad"), batch)
    assert [r.delivery_id for r in results] == [o.delivery_id for o in batch]
    assert [r.ok for r in results] == [True, False, True, False, False, False, True]
    assert results[2] is results[0] and tw.accepted[("+8613800000001", TEXT)] == 1
    assert results[1].code == "invalid_number" and "E.164" in (results[1].reason or "")
    assert results[3].code == "unsubscribed" and "21610" in (results[3].reason or "")
    assert results[4].code == "expired" and results[5].code == "bad_body"
    assert not tc.accepted and sum(tw.accepted.values()) == 2


async def test_retry_after_is_honoured() -> None:
    asked: list[float] = []
    storm = Faults(storm_every_s=100, storm_length_s=100, retry_after_s=2)
    async with FakeTwilio(faults=storm) as tw, FakeTencentSms() as tc:

        async def sleep(s: float) -> None:
            asked.append(s)
            tw.faults = Faults()  # the storm is over when we come back

        results = await send(pool(tw, tc, "after", sleep=sleep), [out(1)])
    assert results[0].ok and asked and asked[0] >= 2.0
    assert sum(tw.accepted.values()) == 1


async def test_a_retry_after_too_long_for_a_warning_fails_over_at_once() -> None:
    storm = Faults(storm_every_s=100, storm_length_s=100, retry_after_s=60)  # the pool's cap here is 2 s
    async with FakeTwilio(faults=storm, callbacks=False) as tw, FakeTencentSms() as tc:
        results = await send(pool(tw, tc, "longwait"), [out(i) for i in range(5)])
    assert all(r.ok for r in results) and sum(tc.accepted.values()) == 5
    assert tw.responses[429] == 5 and retries("twilio-longwait") == 0


async def test_rate_limit_is_never_exceeded_measured_at_the_fake() -> None:
    rate, n = 40.0, 60
    async with FakeTwilio(callbacks=False) as tw, FakeTencentSms() as tc:
        results = await send(pool(tw, tc, "rate", twilio_rate=rate), [out(i) for i in range(n)])
    assert all(r.ok for r in results)
    at = sorted(a.at for a in tw.log)
    assert len(at) == n
    # The bucket (burst 1) grants at most 1 + rate × t in any interval t (exact on a manual clock: see
    # test_ratelimit_breaker.py). Measured where the provider sees it, over 0.5 s and 1 s windows, with two
    # messages of slack for scheduling jitter on a shared machine.
    for window in (0.5, 1.0):
        most = max(sum(1 for t in at if a <= t < a + window) for a in at)
        assert most <= 1 + rate * window + 2, (window, most)
    assert (n - 1) / (at[-1] - at[0]) <= rate * 1.05


async def test_senders_from_yaml_with_env_credentials(tmp_path: Path) -> None:
    async with FakeTwilio(callbacks=False) as tw:
        cfg = tmp_path / "channels.yaml"
        cfg.write_text(
            f"""
sms:
  retry: {{attempts: 2, initial_s: 0.01, max_s: 0.05}}
  providers:
    - adapter: sms-twilio
      name: twilio-yaml
      rate_per_s: 1000
      burst: 50
      params:
        account_sid_env: T_SID
        auth_token_env: T_TOKEN
        from_: "+15005550006"
        api_base: {tw.base_url}
        status_callback_base_env: PUBLIC_URL?
""",
            encoding="utf-8",
        )
        senders = Senders.from_config(cfg, env={"T_SID": ACCOUNT_SID, "T_TOKEN": AUTH_TOKEN})
        try:
            [r] = await senders(Channel.SMS, [out(1)])
            with pytest.raises(LookupError):
                await senders(Channel.WECHAT, [out(2)])
        finally:
            await senders.stop()
        assert r.ok and sum(tw.accepted.values()) == 1 and tw.log[0].status_callback is None
        with pytest.raises(ConfigError, match="T_TOKEN"):
            Senders.from_config(cfg, env={"T_SID": ACCOUNT_SID})


def test_repo_config_parses() -> None:
    env = {k: "x" for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TENCENT_SMS_SECRET_ID")}
    env |= {"TENCENT_SMS_SECRET_KEY": "y", "TWILIO_FROM": "+15005550006", "TWILIO_VOICE_FROM": "+15005550006"}
    env |= {"TENCENT_VMS_SDK_APP_ID": "1400006666", "TENCENT_VMS_TEMPLATE_ID": "4356"}
    path = Path(__file__).parents[2] / "config" / "channels.yaml"
    # Without WeChat, WeCom and push credentials those providers are off, each with the variable it lacks;
    # the group robots need none (their keys are in the directory).
    partial, off = Senders.available(path, env=env)
    assert set(partial.pools) == {Channel.SMS, Channel.VOICE, Channel.WECHAT_GROUP}
    assert "WECOM_CORPID" in off["wecom"] and "JPUSH_APP_KEY" in off["app"] and "FCM_PROJECT_ID" in off["app"]
    env |= {k: "x" for k in ("WECOM_CORPID", "WECOM_APP_SECRET", "WECHAT_OA_APPID", "WECHAT_OA_SECRET")}
    env |= {"WECOM_AGENT_ID": "1000002", "WECHAT_OA_TEMPLATE_ID": "tpl", "JPUSH_APP_KEY": "k"}
    env |= {"JPUSH_MASTER_SECRET": "s", "FCM_PROJECT_ID": "p"}
    env["FCM_SERVICE_ACCOUNT"] = json.dumps(service_account("https://oauth2.googleapis.com/token"))
    senders = Senders.from_config(path, env=env)
    assert [x.name for x in senders.pools[Channel.SMS].providers] == ["twilio", "tencent"]
    assert [x.name for x in senders.pools[Channel.VOICE].providers] == ["twilio-voice", "tencent-voice"]
    assert [x.name for x in senders.pools[Channel.APP].providers] == ["jpush", "fcm"]
    assert {Channel.WECOM, Channel.WECHAT, Channel.WECHAT_GROUP} <= set(senders.pools)
    assert asyncio.iscoroutinefunction(senders.__call__)
