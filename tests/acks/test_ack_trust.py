"""Terminal acks count only from the terminal a command was for (issue 22: accept no forged ack).

Against real SQLite and PostgreSQL, and once through a real Mosquitto and the engine's ack listener: an
anonymous client's `played` on another terminal's topic moves nothing; it is counted, logged and
dead-lettered as `ack_device_mismatch`; the genuine ack still applies afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.speaker.broker import mosquitto
from warnengine.acks.stage import apply_speaker_acks
from warnengine.db import tables as t
from warnengine.db.store import Store, VillageTarget
from warnengine.devices.acks import LoudspeakerAckListener
from warnengine.model import (
    AckState,
    Area,
    Channel,
    Hazard,
    HazardWarning,
    MsgType,
    Severity,
    SpeakerAck,
    command_id,
)
from warnengine.model import Status as WStatus
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import BadAck, device_topic

VILLAGE = "410526100201"


def _warning(identifier: str) -> HazardWarning:
    return HazardWarning(
        warning_id=f"w-{identifier}",
        version=1,
        sender="test",
        identifier=identifier,
        sent=datetime(2026, 7, 1, 8, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=WStatus.ACTUAL,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        areas=[Area(codes=[VILLAGE])],
    )


async def _sent(store: Store, identifier: str, channel: Channel, recipients: list[str]) -> dict[str, str]:
    """recipient → delivery id, sent."""
    w = _warning(identifier)
    await store.save_warning(w)
    target = VillageTarget(w.warning_id, 1, VILLAGE, channel, recipients, store.clock.now() + 3600)
    due = await store.claim_due([target], resend_after=30, max_attempts=3)
    await store.finish_dispatch([d.delivery_id for d in due], {}, [])
    return {d.recipient: d.delivery_id for d in due}


async def _state(store: Store, did: str) -> str:
    async with store.engine.connect() as conn:
        return str(
            (
                await conn.execute(select(t.deliveries.c.state).where(t.deliveries.c.delivery_id == did))
            ).scalar_one()
        )


async def _evidence(store: Store, did: str) -> list[tuple[str, str]]:
    async with store.engine.connect() as conn:
        res = await conn.execute(select(t.acks.c.state, t.acks.c.verdict).where(t.acks.c.delivery_id == did))
        return [(r.state, r.verdict) for r in res]


def _rejected() -> float:
    return (
        REGISTRY.get_sample_value("warnengine_acks_rejected_total", {"reason": "ack_device_mismatch"}) or 0.0
    )


async def test_an_ack_from_another_terminal_is_never_applied(store: Store) -> None:
    speakers = await _sent(store, "T1", Channel.LOUDSPEAKER, ["spk-1", "spk-2"])
    sms = await _sent(store, "T2", Channel.SMS, ["p-1"])
    now, before = store.clock.now(), _rejected()
    forged = [
        SpeakerAck(cmd_id=speakers["spk-1"], state=AckState.PLAYED, at=now, device_id="spk-2"),  # other topic
        SpeakerAck(cmd_id=speakers["spk-1"], state=AckState.PLAYED, at=now),  # no topic device at all
        SpeakerAck(
            cmd_id=sms["p-1"], state=AckState.PLAYED, at=now, device_id="spk-1"
        ),  # a person's delivery
    ]
    counts = await apply_speaker_acks(forged, store)
    assert counts["device_mismatch"] == 3 and counts["applied"] == 0
    assert await _state(store, speakers["spk-1"]) == "sent" and await _state(store, sms["p-1"]) == "sent"
    assert await _evidence(store, speakers["spk-1"]) == []  # the genuine ack's evidence row stays free
    letters = [d for d in await store.dead_letters() if d["reason"] == "ack_device_mismatch"]
    assert len(letters) == 3 and {d["stage"] for d in letters} == {"acks"}
    assert "spk-2" in letters[-1]["detail"] and json.loads(letters[-1]["payload"])["device_id"] == "spk-2"
    assert _rejected() == before + 3

    genuine = SpeakerAck(cmd_id=speakers["spk-1"], state=AckState.PLAYED, at=now, device_id="spk-1")
    assert (await apply_speaker_acks([genuine], store))["applied"] == 1
    assert await _state(store, speakers["spk-1"]) == "played"
    assert await _evidence(store, speakers["spk-1"]) == [("played", "applied")]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with mosquitto(tmp_path_factory.mktemp("mosquitto-acks")) as port:
        yield port


async def test_a_forged_ack_over_mqtt_on_another_terminals_topic(broker: int, store: Store) -> None:
    speakers = await _sent(store, "M1", Channel.LOUDSPEAKER, ["spk-a", "spk-b"])
    listener = LoudspeakerAckListener(
        "127.0.0.1", broker, "test-acks-" + secrets.token_hex(4), "+", shared_group=None, batch_window_s=0.01
    )
    applied: list[dict[str, int]] = []

    async def on_acks(acks: list[SpeakerAck]) -> None:
        applied.append(await apply_speaker_acks(acks, store))

    async def on_bad(_: BadAck) -> None:
        return None

    task = asyncio.create_task(listener.run(on_acks, on_bad))
    stranger = AsyncMqtt("127.0.0.1", broker, "anonymous-" + secrets.token_hex(4))
    try:
        await asyncio.sleep(0.3)  # the listener is subscribed
        await stranger.connect()
        body = {"cmd_id": speakers["spk-a"], "state": "played", "at": store.clock.now()}
        await stranger.publish(device_topic(VILLAGE, "spk-b", "ack"), json.dumps(body).encode(), 1)
        await _until(lambda: sum(c["device_mismatch"] for c in applied) == 1)
        assert await _state(store, speakers["spk-a"]) == "sent"
        await stranger.publish(device_topic(VILLAGE, "spk-a", "ack"), json.dumps(body).encode(), 1)
        await _until(lambda: sum(c["applied"] for c in applied) == 1)
        assert await _state(store, speakers["spk-a"]) == "played"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stranger.disconnect()


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_group_commands_ack_counts_only_for_the_terminal_of_its_topic(store: Store) -> None:
    """A group command's ack carries the warning version's command id: the device of the ack's topic says
    whose delivery it is, so it moves that terminal's delivery and no other; a terminal the warning was not
    for has no delivery to move, and an ack with no topic device names none."""
    speakers = await _sent(store, "G1", Channel.LOUDSPEAKER, ["spk-1", "spk-2"])
    cmd = command_id("w-G1", 1)
    now = store.clock.now()
    counts = await apply_speaker_acks(
        [
            SpeakerAck(cmd_id=cmd, state=AckState.PLAYED, at=now, device_id="spk-1"),
            SpeakerAck(cmd_id=cmd, state=AckState.PLAYED, at=now, device_id="spk-outside"),
            SpeakerAck(cmd_id=cmd, state=AckState.PLAYED, at=now, device_id=None),
        ],
        store,
    )
    assert (counts["applied"], counts["unknown_delivery"]) == (1, 2)
    assert await _state(store, speakers["spk-1"]) == "played"
    assert await _state(store, speakers["spk-2"]) == "sent"
    assert await _evidence(store, speakers["spk-1"]) == [("played", "applied")]
    assert await _evidence(store, speakers["spk-2"]) == []
