"""Link tests over a real Mosquitto (issue 18): every terminal on record gets a signed, silent `test`; the
reference terminal answers it without playing anything; a terminal that cannot verify our signature, or
does not answer at all, makes its link stale — recorded with the reason, counted, and the gauge stays at
the last success."""

from __future__ import annotations

import asyncio
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from tests.speaker.broker import VILLAGE
from tests.speaker.test_reference import CLOCK, terminal
from warnengine.acks.stage import apply_speaker_acks
from warnengine.db.store import Store
from warnengine.devices.link_tests import record, run_terminal_tests, terminal_link
from warnengine.model import AckState, Device, SpeakerAck
from warnengine.signing import Signer, Signers
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import device_topic

ANSWER_S = 3.0


def gauge(link: str) -> float | None:
    return REGISTRY.get_sample_value("warnengine_link_test_last_success_timestamp_seconds", {"link": link})


def counted(result: str) -> float:
    return (
        REGISTRY.get_sample_value("warnengine_link_tests_total", {"kind": "terminal", "result": result})
        or 0.0
    )


async def test_terminals_answer_the_silent_test_and_the_silent_ones_go_stale(
    broker: int, store: Store
) -> None:
    ours = Signer(Ed25519PrivateKey.generate())
    good, foreign, gone = (f"spk-{name}-{secrets.token_hex(3)}" for name in ("good", "foreign", "gone"))
    devices = [Device(device_id=d, cell_code=VILLAGE, lon=102.7, lat=25.0) for d in (good, foreign, gone)]
    await store.import_directory([], [], [], devices, [])
    stranger = Signer(Ed25519PrivateKey.generate())  # the foreign terminal holds another county's key

    def connect() -> AsyncMqtt:
        return AsyncMqtt("127.0.0.1", broker, "link-test-" + secrets.token_hex(4))

    rejected_before, missing_before = counted("rejected"), counted("no_answer")
    async with terminal(broker, ours, good) as (_, sink), terminal(broker, stranger, foreign):
        await asyncio.sleep(0.3)  # both subscribed
        bad_before = counted("bad_answer")
        round_ = asyncio.create_task(run_terminal_tests(store, connect, Signers(ours), CLOCK, ANSWER_S))
        await asyncio.sleep(0.5)
        forger = connect()  # garbage on the silent terminal's ack topic: counted, never a pass
        await forger.connect()
        await forger.publish(device_topic(VILLAGE, gone, "ack"), b"\xff not an ack", 1)
        await forger.disconnect()
        results = await round_
        assert sink.log == []  # answered without playing a sound
        assert counted("bad_answer") == bad_before + 1
    assert results == {
        terminal_link(good): None,
        terminal_link(foreign): "rejected: unknown_key",
        terminal_link(gone): "no_answer",
    }
    now = CLOCK.now()
    record = {r["link"]: r for r in await store.link_tests()}
    assert (
        now - 1 < record[terminal_link(good)]["last_success"] <= now
        and record[terminal_link(good)]["failures"] == 0
    )
    for link, why in ((terminal_link(foreign), "rejected: unknown_key"), (terminal_link(gone), "no_answer")):
        assert record[link]["last_success"] is None and record[link]["last_error"] == why
        assert record[link]["failures"] == 1
    assert (
        gauge(terminal_link(good)) == record[terminal_link(good)]["last_success"]
        and gauge(terminal_link(gone)) == 0.0
    )
    assert counted("rejected") == rejected_before + 1 and counted("no_answer") == missing_before + 1


async def test_the_ack_stage_takes_a_test_answer_as_proof_of_life_only(store: Store) -> None:
    """The engine's ack bridge sees the answers too: no delivery is touched, no play result recorded."""
    device = "spk-answering"
    await store.import_directory(
        [], [], [], [Device(device_id=device, cell_code=VILLAGE, lon=1.0, lat=1.0)], []
    )
    ack = SpeakerAck(cmd_id="lt-0123456789abcdef0123", state=AckState.PLAYED, at=1.0, device_id=device)
    counts = await apply_speaker_acks([ack], store)
    assert counts["unknown_delivery"] == 0 and counts["applied"] == 0
    row = await store.get_device(device)
    assert row is not None and row["last_seen"] == store.clock.now() and row["last_result"] is None


async def test_a_terminal_taken_out_of_the_directory_is_no_longer_a_stale_link(store: Store) -> None:
    await record(store, {terminal_link("spk-a"): None, terminal_link("spk-b"): "no_answer"}, "terminal", 10.0)
    await record(store, {"provider:tencent": "credential: x"}, "provider", 10.0)
    await record(store, {terminal_link("spk-a"): None}, "terminal", 20.0)  # spk-b is gone from devices.csv
    assert [r["link"] for r in await store.link_tests()] == ["provider:tencent", terminal_link("spk-a")]
    assert gauge(terminal_link("spk-b")) is None and gauge(terminal_link("spk-a")) == 20.0
