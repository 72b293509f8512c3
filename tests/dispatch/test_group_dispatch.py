"""dispatch_groups over a real Mosquitto, a simulated county of terminals and a real database: a county-wide
warning is one signed command on the county's group topic; every terminal plays it once and acks on its
own topic, each ack moving its own delivery; a terminal that missed it is re-sent its own command (same
id) by the dispatch stage; the cover of cells is the fewest whole cells, never a terminal not targeted."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from channels.eb_package import EbIdentity, EbPackager
from channels.eb_platform import EbPlatformChannel, EbPlatformConfig
from channels.loudspeaker import LoudspeakerChannel
from channels.loudspeaker_router import LoudspeakerRouter
from tests.speaker.broker import mosquitto
from warnengine.acks.stage import apply_speaker_acks
from warnengine.clock import SystemClock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.devices.acks import LoudspeakerAckListener
from warnengine.directory import County
from warnengine.dispatch.groups import dispatch_groups, group_cover
from warnengine.dispatch.stage import DispatchPolicy, dispatch_loudspeakers
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, SpeakerAck, Status, command_id
from warnengine.signing import Signers, Verifier, load_or_create_signer
from warnengine.signing.sm2 import Sm2Signer
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import BadAck, cells_of

POLICY = DispatchPolicy(command_ttl_s=3600, resend_after_s=30, max_attempts=5)
V = ["530102001001", "530102001002", "530102002001", "530102002002"]  # two townships of one county


def test_the_cover_is_the_fewest_whole_cells() -> None:
    on_record = {V[0]: ["a1", "a2"], V[1]: ["b1"], V[2]: ["c1"], V[3]: ["d1", "d2"], "530102003001": []}
    everyone = [(v, list(ds)) for v, ds in on_record.items()]
    assert group_cover(everyone, on_record) == ({"530102000000": V}, [])
    # One terminal of V[3] not targeted (a drill it has not opted into): its township splits.
    some = [(V[0], ["a1", "a2"]), (V[1], ["b1"]), (V[2], ["c1"]), (V[3], ["d1"])]
    assert group_cover(some, on_record) == ({"530102001000": V[:2], V[2]: [V[2]]}, [V[3]])
    assert group_cover([(V[1], ["b1"])], on_record) == ({V[1]: [V[1]]}, [])
    assert group_cover([(V[0], ["a1"])], on_record) == ({}, [V[0]])  # a subset: per terminal
    # A terminal behind the EB platform: its village goes per terminal, its township and county are not
    # whole; every other village stays on group commands.
    assert group_cover(everyone, on_record, {"c1"}) == ({"530102001000": V[:2], V[3]: [V[3]]}, [V[2]])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with mosquitto(tmp_path_factory.mktemp("mosquitto-groups")) as port:
        yield port


def _quake(county_code: str) -> HazardWarning:
    return HazardWarning(
        warning_id="w-eq-" + secrets.token_hex(3),
        version=1,
        sender="cea",
        identifier="eq",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.EARTHQUAKE,
        severity=Severity.RED,
        event="地震",
        areas=[Area(codes=[county_code])],
    )


@asynccontextmanager
async def _county_on_air(
    broker: int, store: Store, county: County, signers: Signers, offline: set[str]
) -> AsyncIterator[tuple[TerminalFarm, LoudspeakerChannel]]:
    """The county's terminals (a farm), the engine's channel, and its ack listener applying acks."""
    devices = [(d.device_id, d.cell_code) for d in county.devices]
    mqtt = AsyncMqtt("127.0.0.1", broker, "farm-" + secrets.token_hex(3))
    await mqtt.connect()
    farm = TerminalFarm(devices, Verifier([signers.ed25519.public]), SystemClock(), mqtt, offline=offline)
    channel = LoudspeakerChannel("127.0.0.1", broker, "engine-" + secrets.token_hex(3))
    await channel.start()
    listener = LoudspeakerAckListener(
        "127.0.0.1", broker, "acks-" + secrets.token_hex(3), "+", shared_group=None, batch_window_s=0.01
    )

    async def on_acks(acks: list[SpeakerAck]) -> None:
        await apply_speaker_acks(acks, store)

    async def on_bad(_: BadAck) -> None:
        return None

    tasks = [asyncio.create_task(farm.run()), asyncio.create_task(listener.run(on_acks, on_bad))]
    await asyncio.sleep(0.3)  # subscribed
    try:
        yield farm, channel
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await channel.stop()
        await mqtt.disconnect()


async def _states(store: Store, warning_id: str) -> dict[str, str]:
    d = t.deliveries.c
    async with store.engine.connect() as conn:
        res = await conn.execute(select(d.recipient, d.state).where(d.warning_id == warning_id))
        return {r.recipient: r.state for r in res}


async def _until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_one_county_command_reaches_all_and_the_silent_get_their_own(
    broker: int, store: Store, small_county: County, tmp_path: Any
) -> None:
    store.clock.advance(SystemClock().now() - store.clock.now())  # type: ignore[attr-defined]  # farm: real time
    county = small_county
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    county_code = next(c.code for c in county.cells if c.level.value == "county")
    w = _quake(county_code)
    await store.save_warning(w)
    on_record: dict[str, list[str]] = {}
    for d in county.devices:
        on_record.setdefault(d.cell_code, []).append(d.device_id)
    missed = sorted(on_record)[3]
    silent = on_record[missed][0]
    signers = Signers(load_or_create_signer(tmp_path / "engine.key"))
    async with _county_on_air(broker, store, county, signers, offline={silent}) as (farm, channel):
        expires = store.clock.now() + 600
        res = await dispatch_groups(
            w, sorted(on_record.items()), on_record, store, channel, signers, POLICY, expires
        )
        assert res.groups == {county_code: "county"} and res.left == []
        assert res.sent == len(county.devices)
        others = {d.device_id for d in county.devices} - {silent}

        async def all_but_one_played() -> bool:
            states = await _states(store, w.warning_id)
            return all(states[d] == "played" for d in others) and states[silent] == "sent"

        await _until(all_but_one_played)
        cmd = command_id(w.warning_id, w.version)
        assert all(farm.command_ids[d] == [cmd] and farm.via[d] == [county_code] for d in others)
        assert silent not in farm.command_ids

        # Back online; the reconciler's re-emit runs the dispatch stage once `resend_after` has passed.
        farm.offline.clear()
        store.clock.advance(POLICY.resend_after_s)  # type: ignore[attr-defined]
        again = await dispatch_loudspeakers([(w, v) for v in on_record], store, channel, signers, POLICY)
        assert again.sent == 1

        async def all_played() -> bool:
            return set((await _states(store, w.warning_id)).values()) == {"played"}

        await _until(all_played)
        assert farm.command_ids[silent] == [cmd] and farm.via[silent] == ["own"]
        assert all(farm.command_ids[d] == [cmd] for d in others)  # nobody else heard it twice
        assert farm.stats()["played"] == len(county.devices)


async def test_a_village_with_an_eb_terminal_is_never_in_a_group_command(
    broker: int, store: Store, small_county: County, tmp_path: Any
) -> None:
    """Through the loudspeaker router (MQTT + EB platform): the village with an EB terminal is left for
    the per-terminal path, its terminals neither sent a group command nor counted as sent; the county
    command is not used, and every other terminal hears its cell's group command."""
    store.clock.advance(SystemClock().now() - store.clock.now())  # type: ignore[attr-defined]  # farm: real time
    county = small_county
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    county_code = next(c.code for c in county.cells if c.level.value == "county")
    w = _quake(county_code)
    await store.save_warning(w)
    on_record: dict[str, list[str]] = {}
    for d in county.devices:
        on_record.setdefault(d.cell_code, []).append(d.device_id)
    mixed = sorted(on_record)[0]
    eb_terminal = on_record[mixed][0]
    signers = Signers(load_or_create_signer(tmp_path / "engine.key"))
    async with _county_on_air(broker, store, county, signers, offline=set()) as (farm, mqtt):
        router = LoudspeakerRouter(mqtt, _idle_eb(store), [eb_terminal])
        expires = store.clock.now() + 600
        res = await dispatch_groups(
            w, sorted(on_record.items()), on_record, store, router, signers, POLICY, expires
        )
        assert res.left == [mixed] and county_code not in res.groups
        assert mixed not in res.villages and all(cells_of(mixed)[1] != c for c in res.groups)
        others = {d for v, ds in on_record.items() if v != mixed for d in ds}
        assert res.sent == len(others)

        async def others_played() -> bool:
            states = await _states(store, w.warning_id)
            return all(states[d] == "played" for d in others)

        await _until(others_played)
        states = await _states(store, w.warning_id)
        # Not claimed nor counted here: the per-terminal stage sends them (the EB one through the platform).
        assert all(states.get(d) in (None, "pending") for d in on_record[mixed])
        assert all(d not in farm.command_ids for d in on_record[mixed])


def _idle_eb(store: Store) -> EbPlatformChannel:
    """An EB platform channel nothing is sent through here (the group stage never uses it)."""
    ident = EbIdentity("33411220000000100000001", "30000000000001020000001", "000000000075", "000000003363")
    signer = Sm2Signer.generate()
    config = EbPlatformConfig(
        url="http://127.0.0.1:9/",
        sender_name="某县应急管理局",
        sender_code="33411220000000100000001",
        county_code="530102000000",
        platform_public_key=signer.public,
    )
    return EbPlatformChannel(config, EbPackager(ident, signer), store)
