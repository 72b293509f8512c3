"""Simulated providers (design decision 22): a worker with `simulated_providers` and no real credentials
sends people's messages through pools of `channels.simulated` adapters into the simulated population, whose
receipts and replies come due on the engine clock; with real credentials present it never does, and the
API says which is in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.base import Outgoing
from tests.plan.conftest import directory_of
from warnengine.clock import ManualClock
from warnengine.directory import County
from warnengine.dispatch.in_use import providers_in_use
from warnengine.model import Channel, DeliveryState, Role
from warnengine.pipeline.resources import Resources
from warnengine.settings import Settings
from warnengine.sim.world import SIMULATED, answers

CHANNELS = Path("config/channels.yaml")
SCENARIO = Path("config/scenarios/embedded.yaml")
TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_FROM": "+15005550006",
}


def _resources(tmp_path: Path, county: County, clock: ManualClock) -> Resources:
    s = Settings(data_dir=tmp_path, channels_file=CHANNELS, simulated_providers=True, sim_scenario=SCENARIO)
    rt = Resources(s, clock)
    rt.directory = directory_of(county)
    return rt


def _unset_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TENCENTCLOUD_SECRET_ID", "FCM_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    assert providers_in_use(CHANNELS, True).mode == "simulated", "a real credential is set in this shell"


async def test_no_credentials_sends_to_the_population_which_answers(
    tmp_path: Path, small_county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unset_real_credentials(monkeypatch)
    clock = ManualClock(1_782_864_000.0)
    rt = _resources(tmp_path, small_county, clock)
    await rt._start_senders()
    assert rt.population is not None and rt.senders is not None
    assert set(rt.people_channels) == {Channel.SMS, Channel.VOICE, Channel.WECHAT, Channel.APP}
    names = {p.name for pool in rt.senders.pools.values() for p in pool.providers}
    assert names == {"sim-sms", "sim-voice", "sim-wechat", "sim-app"}

    residents = [p for p in small_county.people if p.role is Role.RESIDENT and p.phone]
    batch = [
        Outgoing(f"d{i}", p.phone or "", p.cell_code[:12], {}, clock.now() + 3600)
        for i, p in enumerate(residents)
    ]
    results = await rt.send_people(Channel.SMS, batch)
    assert len(results) == len(batch)
    invalid = [r for r in results if not r.ok]
    assert all("21211" in (r.reason or "") for r in invalid)
    assert all(r.provider_ref == f"sim-sms:{r.delivery_id}" for r in results if r.ok)

    clock.advance(11 * 60)  # every answering resident has answered by the scenario's 8 minutes
    a = answers(rt.population, SIMULATED)
    receipts = [e for e in a.events if e.kind == "status"]
    replies = [e for e in a.events if e.kind == "reply"]
    assert len(receipts) == len(results) - len(invalid)
    assert {(e.provider, e.state) for e in receipts} == {("sim-sms", DeliveryState.DELIVERED)}, receipts[:1]
    silent = {p.person_id for p in residents if rt.population.delay[p.person_id] is None}
    assert replies and len(replies) <= len(residents) - len(silent)
    # Half answer for themselves, half for the whole household (embedded.yaml's household_replies).
    assert all(e.provider == "sim-sms" and e.text in ("收到", "全家") for e in replies)
    assert {e.text for e in replies} == {"收到", "全家"}


async def test_real_credentials_win(
    tmp_path: Path, small_county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in TWILIO.items():
        monkeypatch.setenv(k, v)
    rt = _resources(tmp_path, small_county, ManualClock())
    await rt._start_senders()
    try:
        assert rt.population is None and rt.senders is not None
        names = {p.name for pool in rt.senders.pools.values() for p in pool.providers}
        assert names and not any(n.startswith("sim-") for n in names)
        in_use = providers_in_use(CHANNELS, True)
        assert in_use.mode == "real" and in_use.channels["sms"] == ["twilio"]
    finally:
        await rt.senders.stop() if rt.senders else None


def test_providers_in_use_says_which() -> None:
    env: dict[str, str] = {}
    assert providers_in_use(CHANNELS, True, env).mode == "simulated"
    assert providers_in_use(CHANNELS, True, env).label == "模拟 / simulated providers"
    assert providers_in_use(CHANNELS, False, env).mode == "none"
    assert providers_in_use(Path("no/such/file.yaml"), True, env).mode == "simulated"
    assert providers_in_use(CHANNELS, True, TWILIO).mode == "real"


def test_a_provider_without_credentials_is_listed_disabled_and_the_robots_stay_simulated() -> None:
    """The shipped channels file: with Twilio's credentials only, Tencent SMS is off (named, with the
    variable it lacks, never a value) and Twilio works; with none, the keyless WeCom robots alone do not
    turn the simulated providers off."""
    shipped = Path(__file__).parents[2] / "config" / "channels.yaml"
    assert providers_in_use(shipped, True, {}).mode == "simulated"
    assert "wecom-robot" not in str(providers_in_use(shipped, True, {}).channels)
    got = providers_in_use(shipped, True, TWILIO)
    assert got.mode == "real" and got.channels["sms"] == ["twilio"]
    assert got.channels["wechat_group"] == ["wecom-robot"]  # keyless: in use beside a real provider
    assert "TENCENT_SMS_SECRET_ID" in got.disabled["sms/tencent"] and "jpush" in str(got.disabled)
    assert not any(v in str(got.disabled) for v in TWILIO.values())
