"""JPush ⇄ FCM failover for a person who has both tokens (issue 18): each provider gets its own token of
the person, a provider failure (bad credentials, provider down) moves the delivery to the other one, in
the pool's order; real HTTP against the local fakes, and from people.csv's fcm_token to the provider."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import Outgoing
from channels.config import PoolConfig, ProviderConfig, RetryConfig
from channels.tokens import TokenService
from tests.fakes.fcm import PROJECT, FakeFcm
from tests.fakes.jpush import APP_KEY, MASTER_SECRET, FakeJPush
from warnengine.clock import Clock, ManualClock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.directory.importer import import_folder
from warnengine.directory.parse import ReadOptions
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.pool import ProviderPool
from warnengine.dispatch.sender import Senders, build_pool
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Channel
from warnengine.resolve.directory import Directory

NOW = 1_800_000_000.0
JPUSH_IDS = [f"1a0018970a{i:09d}" for i in range(4)]
FCM_TOKENS = [f"cXk3:APA91b{i:06d}" for i in range(4)]
BODY = {
    "title": "山洪红色预警",
    "text": "沿河群众立即转移。",
    "warning_id": "w-1",
    "severity": "red",
    "hazard": "flood",
}
pytestmark = pytest.mark.timeout(60)
FAST = RetryConfig(attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0.0)


@pytest.fixture
async def tokens() -> AsyncIterator[TokenService]:
    s = TokenService(ManualClock(NOW))
    yield s
    await s.close()


def _jpush(base: str, secret: str = MASTER_SECRET, clock: Clock | None = None) -> ProviderConfig:
    params: dict[str, Any] = {"app_key": APP_KEY, "master_secret": secret, "api_base": base, "clock": clock}
    return ProviderConfig("jpush", "jpush", params, rate_per_s=0)  # no bucket: the clock is a manual one


def _fcm(fake: FakeFcm, tokens: TokenService, base: str | None = None) -> ProviderConfig:
    params: dict[str, Any] = {
        "project_id": PROJECT,
        "service_account": fake.new_service_account(),
        "tokens": tokens,
        "api_base": base or fake.base_url,
        "clock": fake.clock,
    }
    return ProviderConfig("fcm", "fcm", params, rate_per_s=0)


def _both(i: int) -> Outgoing:
    addresses = {"jpush": JPUSH_IDS[i], "fcm": FCM_TOKENS[i]}
    return Outgoing(f"d-{i}", JPUSH_IDS[i], "410526100201", BODY, NOW + 3600, addresses=addresses)


async def _send(pool: ProviderPool, batch: list[Outgoing]) -> list[Any]:
    try:
        return await pool.send(batch)
    finally:
        await pool.stop()


async def test_jpush_failing_as_a_provider_moves_both_token_people_to_fcm(tokens: TokenService) -> None:
    """JPush refuses our credentials (provider_fault): each delivery goes to FCM with the person's FCM
    token; JPush never sees an FCM token. A person with one token is tried at FCM with it, as before
    (FCM refuses a JPush id)."""
    clock = ManualClock(NOW)
    async with (
        FakeJPush(registered=set(JPUSH_IDS)) as jp,
        FakeFcm(clock=clock, registered=set(FCM_TOKENS)) as fc,
    ):
        cfg = PoolConfig(Channel.APP, [_jpush(jp.base_url, "wrong-secret"), _fcm(fc, tokens)], FAST)
        lone = Outgoing("d-lone", JPUSH_IDS[3], "410526100201", BODY, NOW + 3600)
        results = await _send(build_pool(cfg, clock=clock), [_both(0), _both(1), lone])
        assert [r.ok for r in results] == [True, True, False]
        assert fc.delivered == {FCM_TOKENS[0]: 1, FCM_TOKENS[1]: 1}
        assert not jp.delivered and jp.requests > 0


async def test_fcm_down_moves_them_to_jpush_when_fcm_comes_first(tokens: TokenService) -> None:
    """Or the other way round: FCM first and unreachable (no connection), JPush takes them by JPush id."""
    clock = ManualClock(NOW)
    async with (
        FakeJPush(registered=set(JPUSH_IDS)) as jp,
        FakeFcm(clock=clock, registered=set(FCM_TOKENS)) as fc,
    ):
        dead = f"http://127.0.0.1:{_closed_port()}"
        cfg = PoolConfig(Channel.APP, [_fcm(fc, tokens, base=dead), _jpush(jp.base_url)], FAST)
        results = await _send(build_pool(cfg, clock=clock), [_both(0), _both(1)])
        assert all(r.ok for r in results)
        assert jp.delivered == {JPUSH_IDS[0]: 1, JPUSH_IDS[1]: 1} and not fc.delivered


async def test_a_recipient_refused_at_jpush_is_not_sent_again_at_fcm(tokens: TokenService) -> None:
    """Failover is for provider failures: an unknown JPush id is that recipient's final answer."""
    clock = ManualClock(NOW)
    async with FakeJPush(registered=set()) as jp, FakeFcm(clock=clock, registered=set(FCM_TOKENS)) as fc:
        cfg = PoolConfig(Channel.APP, [_jpush(jp.base_url), _fcm(fc, tokens)], FAST)
        [r] = await _send(build_pool(cfg, clock=clock), [_both(0)])
        assert not r.ok and not fc.delivered


async def test_fcm_token_from_people_csv_reaches_fcm_when_jpush_is_down(
    store: Store, small_county: County, small_county_dir: Path, tmp_path: Path
) -> None:
    """people.csv's fcm_token column → push_tokens → the directory → the dispatched delivery's addresses."""
    from tests.dispatch.test_wechat_groups import _warning
    from warnengine.model import Severity
    from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
    from warnengine.plan.stage import plan_deliveries

    folder = tmp_path / "county"
    shutil.copytree(small_county_dir, folder)
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    people = (folder / "people.csv").read_text(encoding="utf-8").splitlines()
    header, rows = people[0], people[1:]
    chosen: dict[str, str] = {}  # JPush id → FCM token, for the village's residents with an app token
    out = [header + ",FCM令牌"]  # the Chinese header, read as fcm_token
    for line in rows:
        cells = line.split(",")
        if cells[2].startswith(village) and cells[4] == "resident" and cells[7] and len(chosen) < 3:
            chosen[cells[7]] = f"cXk3:APA91b-{cells[0]}"
            out.append(line + "," + chosen[cells[7]])
        else:
            out.append(line + ",")
    assert chosen, "the sample village has residents with an app token"
    (folder / "people.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    assert (await import_folder(store, folder, ReadOptions())).imported
    directory = await Directory.load(store)
    assert {k: directory.second_tokens[k] for k in chosen} == chosen

    w = _warning("w-push", village)
    await store.save_warning(w)
    rule = Rule(
        name="t",
        hazards=("any",),
        severities=(Severity.RED,),
        residents=Residents.ALL,
        channels=(Channel.APP,),
    )
    await plan_deliveries(w, directory, DisseminationPolicy(rules=(rule,)), store, 3600)
    policy = DispatchPolicy(command_ttl_s=3600, resend_after_s=0, max_attempts=3)
    async with (
        FakeJPush(registered=set()) as jp,
        FakeFcm(clock=store.clock, registered=set(chosen.values())) as fc,
    ):
        on_record = TokenService(store.clock)  # the fake checks the JWT's times on the record's clock
        cfg = PoolConfig(
            Channel.APP, [_jpush(jp.base_url, "wrong-secret", store.clock), _fcm(fc, on_record)], FAST
        )
        senders = Senders({Channel.APP: build_pool(cfg, clock=store.clock)})
        try:
            await dispatch_people([(w, village)], store, senders, policy, (Channel.APP,), directory)
        finally:
            await senders.stop()
            await on_record.close()
        assert fc.delivered == {tok: 1 for tok in chosen.values()}
    async with store.engine.connect() as conn:
        rows_ = list(await conn.execute(select(t.deliveries).where(t.deliveries.c.channel == "app")))
    sent = {r.recipient for r in rows_ if r.state == "sent"}
    assert sent == set(chosen)  # recorded under the person's app token, as planned


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
