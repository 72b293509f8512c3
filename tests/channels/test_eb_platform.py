"""The EB platform adapter and its report endpoint against the fake platform (tests/fakes/eb_platform.py):
every message type (EBM alert, update, cancel; ConnectionCheck; EBDResponse; EBMStateResponse; EBRDTState)
and every fault (bad signature both ways, timeouts, platform down, partial coverage, a terminal in fault,
answers that are not a tar, unknown messages, areas outside the county)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from channels.base import Outgoing
from channels.eb_package import EbIdentity, EbPackager
from channels.eb_platform import EbPlatformChannel, EbPlatformConfig
from channels.eb_platform_webhook import EbReports, eb_platform_routes
from tests.fakes.eb_platform import FakeEbPlatform
from tests.fakes.faults import FakeServer
from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.model import (
    AckState,
    Device,
    Hazard,
    HazardWarning,
    MsgType,
    Severity,
    SpeakerAck,
    Status,
    command_id,
)
from warnengine.signing.sm2 import Sm2Signer
from warnengine.wire.eb import (
    AreaCoverage,
    Body,
    BroadcastLog,
    EbdResponse,
    Ebm,
    EbmState,
    TerminalState,
    TerminalStates,
)

COUNTY = "341122000000"
V1, V2 = "341122100201", "341122100202"
T1, T2, T3 = "4341122100201" + "1000000001", "4341122100201" + "1000000002", "4341122100202" + "1000000001"
OUR_EBRID = "33411220000000100000001"
EB_DEVICES = [(T1, V1), (T2, V1), (T3, V2)]


def warning(
    version: int = 1, msg_type: MsgType = MsgType.ALERT, status: Status = Status.ACTUAL
) -> HazardWarning:
    return HazardWarning(
        warning_id="w-eb-1",
        version=version,
        sender="county-met",
        identifier=f"eb-{version}",
        sent=datetime(2026, 7, 1, 8, tzinfo=UTC),
        msg_type=msg_type,
        status=status,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        headline="县气象台发布暴雨红色预警",
    )


def outgoing(w: HazardWarning, devices: Sequence[tuple[str, str]]) -> list[Outgoing]:
    body = {"text": "暴雨红色预警。请立即转移。", "id": command_id(w.warning_id, w.version)}
    return [Outgoing(f"d-{w.version}-{dev}", dev, village, body, 2e9, w) for dev, village in devices]


@dataclass
class Engine:
    channel: EbPlatformChannel
    fake: FakeEbPlatform
    acks: list[SpeakerAck] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[str, str]] = field(default_factory=list)  # (reason, detail)


@pytest.fixture
async def eb_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite record with three terminals behind the platform and one MQTT terminal."""
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'eb.db'}")
    await migrate(engine)
    store = Store(engine, ManualClock())
    devices = [Device(device_id=d, cell_code=v, lon=0.0, lat=0.0, provider="eb") for d, v in EB_DEVICES]
    devices.append(Device(device_id="mqtt-1", cell_code=V1, lon=0.0, lat=0.0))
    await store.import_directory([], [], [], devices)
    yield store
    await store.close()


@pytest.fixture
async def engine(eb_store: Store) -> AsyncIterator[Engine]:
    signer = Sm2Signer.generate()
    terminals = {V1: [T1, T2], V2: [T3]}
    async with FakeEbPlatform(signer.public, "000000003363", terminals) as fake:
        ident = EbIdentity(OUR_EBRID, "30000000000001020000001", "000000000075", "000000003363")
        config = EbPlatformConfig(
            url=fake.url,
            sender_name="某县应急管理局",
            sender_code=OUR_EBRID,
            county_code=COUNTY,
            platform_public_key=fake.public_key,
            timeout_s=1.0,
            attempts=3,
            backoff_s=0.01,
        )
        e = Engine(EbPlatformChannel(config, EbPackager(ident, signer), eb_store), fake)

        async def dead_letter(stage: str, reason: str, detail: str, *_: object) -> None:
            e.dead.append((reason, detail))

        e.channel._dead_letter = dead_letter

        async def on_acks(acks: list[SpeakerAck]) -> None:
            e.acks.extend(acks)

        async def on_status(rows: Sequence[dict[str, Any]]) -> list[str]:
            e.rows.extend(rows)
            return [r["device_id"] for r in rows if r["device_id"] not in (T1, T2, T3)]

        app = web.Application()
        app.add_routes(eb_platform_routes(EbReports(e.channel, on_acks, on_status)))
        ours = FakeServer(app)
        await ours.start()
        fake.report_url = f"{ours.base_url}/webhooks/eb/ebd"
        try:
            yield e
        finally:
            await e.channel.stop()
            await ours.stop()


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("warnengine_eb_platform_refused_total", {"reason": reason}) or 0.0


async def test_alert_reaches_the_platform_and_play_comes_back(engine: Engine) -> None:
    w = warning()
    results = await engine.channel.send_batch(outgoing(w, [(T1, V1), (T2, V1), (T3, V2)]))
    assert [r.ok for r in results] == [True, True, True]
    (ebd,) = engine.fake.received
    ebm = ebd.body
    assert isinstance(ebm, Ebm)
    assert ebm.area_codes == (V1, V2) and ebm.msg_type == "1" and ebm.severity == "1"
    assert ebm.event_type == "11B00" and ebm.sender_code == OUR_EBRID and ebm.title.startswith("县气象台")
    assert len(ebd.header.ebd_id) == 41 and len(ebm.ebm_id) == 35
    assert results[0].provider_ref == ebm.ebm_id
    await engine.fake.settle()
    assert [a.code for a in engine.fake.report_answers] == [1, 1, 1]  # EBRDTState, playing, finished
    final = {a.device_id: a.state for a in engine.acks if a.state != AckState.PLAYING}
    assert final == {T1: AckState.PLAYED, T2: AckState.PLAYED, T3: AckState.PLAYED}
    assert {a.cmd_id for a in engine.acks} == {command_id(w.warning_id, 1)}
    assert {r["device_id"]: r["online"] for r in engine.rows} == {T1: True, T2: True, T3: True}
    assert all(r["playing"] == "eb" for r in engine.rows)


async def test_update_and_cancel_relate_to_the_earlier_message(engine: Engine) -> None:
    await engine.channel.send_batch(outgoing(warning(1), [(T1, V1)]))
    await engine.channel.send_batch(outgoing(warning(2, MsgType.UPDATE), [(T1, V1)]))
    await engine.channel.send_batch(outgoing(warning(3, MsgType.CANCEL), [(T1, V1)]))
    ebms = [e.body for e in engine.fake.received]
    assert all(isinstance(m, Ebm) for m in ebms)
    first, update, cancel = (m for m in ebms if isinstance(m, Ebm))
    assert first.related_ebm_id is None
    assert update.related_ebm_id == first.ebm_id and update.msg_type == "1"
    assert cancel.related_ebm_id == update.ebm_id and cancel.msg_type == "2"
    assert len({first.ebm_id, update.ebm_id, cancel.ebm_id}) == 3


async def test_a_resend_keeps_the_message_id_and_a_drill_is_a_terminal_drill(engine: Engine) -> None:
    w = warning(status=Status.EXERCISE)
    await engine.channel.send_batch(outgoing(w, [(T1, V1)]))
    await engine.channel.send_batch(outgoing(w, [(T1, V1)]))
    a, b = (e.body for e in engine.fake.received)
    assert isinstance(a, Ebm) and isinstance(b, Ebm)
    assert a.ebm_id == b.ebm_id and a.msg_type == "5" and a.title.startswith("【演练】")
    assert engine.fake.received[0].header.ebd_id != engine.fake.received[1].header.ebd_id


async def test_connection_check(engine: Engine) -> None:
    assert await engine.channel.check_link()
    assert engine.channel.connected
    (ebd,) = engine.fake.received
    assert ebd.header.ebd_type == "ConnectionCheck" and ebd.header.ebd_id == "01" + OUR_EBRID + "0" * 16


async def test_the_heartbeat_stops_with_the_channel(engine: Engine) -> None:
    """ConnectionChecks every interval until the channel stops (the worker stops it through its loudspeaker
    router): then no task is left and no check follows; started twice, one heartbeat runs."""
    engine.channel.start_heartbeat(0.02)
    engine.channel.start_heartbeat(0.02)
    for _ in range(200):
        if len(engine.fake.received) >= 3:
            break
        await asyncio.sleep(0.01)
    assert len(engine.fake.received) >= 3 and engine.channel.heartbeat_running
    beats = [t for t in asyncio.all_tasks() if t.get_name() == "eb-heartbeat"]
    assert len(beats) == 1
    await engine.channel.stop()
    assert not engine.channel.heartbeat_running and beats[0].cancelled()
    seen = len(engine.fake.received)
    await asyncio.sleep(0.1)
    assert len(engine.fake.received) == seen
    assert all(e.header.ebd_type == "ConnectionCheck" for e in engine.fake.received)


async def test_platform_refuses_a_bad_signature(engine: Engine) -> None:
    engine.fake.engine_public_key = Sm2Signer.generate().public  # the platform trusts another key
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    assert not results[0].ok and not results[0].retryable
    assert results[0].code == "eb_signature_failed"
    assert engine.fake.refused[0][0] == 4 and not engine.fake.received


async def test_platform_down_retries_with_backoff_then_fails_open(engine: Engine) -> None:
    await engine.fake.server.set_down(True)
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1), (T3, V2)]))
    assert all(not r.ok and r.retryable and r.reason == "eb_platform_down" for r in results)
    assert not engine.channel.connected
    await engine.fake.server.set_down(False)
    engine.fake.errors = 2  # two 503s, then it answers: the third try gets through
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    assert results[0].ok and engine.fake.requests == 3


async def test_timeout_counts_as_down(engine: Engine) -> None:
    engine.fake.hang_s = 2.0  # longer than the adapter's 1 s timeout, each of 3 tries
    t0 = asyncio.get_running_loop().time()
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    assert results[0].reason == "eb_platform_down" and engine.fake.requests == 3
    assert asyncio.get_running_loop().time() - t0 < 6


async def test_an_answer_that_is_not_a_tar_is_refused_and_recorded(engine: Engine) -> None:
    engine.fake.garbage_answer = True
    before = refused("eb_bad_tar")
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    assert not results[0].ok and results[0].reason == "eb_bad_tar"
    assert refused("eb_bad_tar") == before + 1
    assert engine.dead and engine.dead[0][0] == "eb_bad_tar"


async def test_forged_answers_and_reports_are_refused(engine: Engine) -> None:
    engine.fake.forge_reports = True
    before = refused("eb_signature_failed")
    results = await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    assert not results[0].ok and results[0].reason == "eb_signature_failed"
    await engine.fake.settle()
    assert not engine.acks and not engine.rows  # nothing applied
    assert [a.code for a in engine.fake.report_answers] == [4, 4, 4]
    assert refused("eb_signature_failed") == before + 4  # the answer and three reports


async def test_partial_coverage_and_a_terminal_in_fault(engine: Engine) -> None:
    engine.fake.coverage = {V1: 50.0}
    engine.fake.faulty = {T2}
    await engine.channel.send_batch(outgoing(warning(), [(T1, V1), (T2, V1), (T3, V2)]))
    await engine.fake.settle()
    final = {a.device_id: (a.state, a.reason) for a in engine.acks if a.state != AckState.PLAYING}
    assert final == {
        T1: (AckState.FAILED, "eb_partial_coverage:50%"),
        T2: (AckState.FAILED, "eb_partial_coverage:50%"),
        T3: (AckState.PLAYED, None),
    }
    health = {r["device_id"]: (r["online"], r["reason"]) for r in engine.rows}
    assert health == {T1: (True, None), T2: (False, "eb_fault"), T3: (True, None)}


async def test_broadcast_failed(engine: Engine) -> None:
    engine.fake.final_state = 4
    await engine.channel.send_batch(outgoing(warning(), [(T3, V2)]))
    await engine.fake.settle()
    assert [(a.state, a.reason) for a in engine.acks][-1] == (AckState.FAILED, "eb_broadcast_failed")


async def test_the_final_state_in_a_broadcast_log(engine: Engine) -> None:
    engine.fake.log_only = True
    await engine.channel.send_batch(outgoing(warning(), [(T1, V1), (T3, V2)]))
    await engine.fake.settle()
    final = {a.device_id: a.state for a in engine.acks if a.state != AckState.PLAYING}
    # Every terminal behind the platform in the covered villages (T2 too: the platform plays by area).
    assert final == {T1: AckState.PLAYED, T2: AckState.PLAYED, T3: AckState.PLAYED}
    ebm = engine.fake.received[0].body
    assert isinstance(ebm, Ebm)
    url = engine.fake.report_url
    assert url is not None
    # A log with another sender's message beside ours: that item is refused, ours applied.
    engine.acks.clear()
    now = datetime.now(UTC).replace(microsecond=0)
    before = refused("eb_unknown_message")
    items = (EbmState("8" * 35, now, 3), EbmState(ebm.ebm_id, now, 4, "", (AreaCoverage(V1, 0),)))
    answer = await engine.fake.post_report(url, BroadcastLog(items))
    assert answer is not None and answer.code == 1
    assert refused("eb_unknown_message") == before + 1
    assert {(a.device_id, a.state) for a in engine.acks} == {(T1, AckState.FAILED), (T2, AckState.FAILED)}


async def test_reports_that_must_not_be_applied(engine: Engine) -> None:
    await engine.channel.send_batch(outgoing(warning(), [(T1, V1)]))
    await engine.fake.settle()
    engine.acks.clear()
    ebm = engine.fake.received[0].body
    assert isinstance(ebm, Ebm)
    url = engine.fake.report_url
    assert url is not None
    now = datetime.now(UTC).replace(microsecond=0)
    cases: list[tuple[Body, str]] = [
        (EbmState("9" * 35, now, 3, "", ()), "eb_unknown_message"),
        (EbmState(ebm.ebm_id, now, 3, "", (AreaCoverage("110101001001", 100),)), "eb_area_outside_county"),
        (EbmState(ebm.ebm_id, now, 3, "", (AreaCoverage(V2, 100),)), "eb_area_not_in_message"),
        (TerminalStates((TerminalState("4110101001001" + "1" * 10, 1),)), "eb_area_outside_county"),
        (TerminalStates((TerminalState(T1, 9),)), "eb_bad_field"),
    ]
    for body, reason in cases:
        before = refused(reason)
        answer = await engine.fake.post_report(url, body)
        assert answer is not None and answer.code == 5 and reason in answer.desc
        assert refused(reason) == before + 1
    unknown = "4341122100201" + "9" * 10
    answer = await engine.fake.post_report(url, TerminalStates((TerminalState(unknown, 1),)))
    assert answer == EbdResponse(1, "已接收完成 / received")
    assert engine.dead[-1][0] == "eb_unknown_terminal"
    assert not engine.acks


async def test_a_report_that_is_not_a_package(engine: Engine) -> None:
    import aiohttp

    url = engine.fake.report_url
    assert url is not None
    before = refused("eb_bad_tar")
    async with aiohttp.ClientSession() as s, s.post(url, data=b"not a tar") as resp:
        raw = await resp.read()
    from channels.eb_package import open_package

    answer = open_package(raw, engine.channel.packager.public_key_hex)
    assert isinstance(answer.body, EbdResponse) and answer.body.code == 2
    assert refused("eb_bad_tar") == before + 1
