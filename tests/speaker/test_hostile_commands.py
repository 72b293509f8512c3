"""Hostile bytes on a terminal's `cmd` topic, over a real Mosquitto: every one is acked `rejected` with a
reason — never a crash, never `failed internal` — and a genuine command still plays afterwards."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.speaker.broker import VILLAGE, EngineSide, command
from tests.speaker.test_reference import terminal
from warnengine.clock import SystemClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker.command import MAX_COMMAND_BYTES, read_command
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import AsyncMqtt

CLOCK = SystemClock()


def hostile(signer: Signer) -> list[tuple[bytes, str, str]]:
    """(payload, cmd_id acked, reason)."""
    numeric_sig = {**command(signer, CLOCK), "sig": 12345}
    list_key = {**command(signer, CLOCK), "key_id": ["x"]}
    return [
        (b"[1,2,3]", "?", "not_object"),
        (b'"just a string"', "?", "not_object"),
        (b"\xff not json", "?", "not_json"),
        (json.dumps(numeric_sig).encode(), numeric_sig["id"], "bad_signature"),
        (json.dumps(list_key).encode(), list_key["id"], "unknown_key"),
        (b"[" * 100_000 + b"]" * 100_000, "?", "too_large"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "?", "too_deep"),
        (b'{"id": "x", "pad": "' + b"A" * (1024 * 1024) + b'"}', "?", "too_large"),
    ]


@asynccontextmanager
async def farm(port: int, signer: Signer, devices: list[str]) -> AsyncIterator[TerminalFarm]:
    mqtt = AsyncMqtt("127.0.0.1", port, "test-farm-" + secrets.token_hex(4))
    await mqtt.connect()
    f = TerminalFarm([(d, VILLAGE) for d in devices], Verifier([signer.public]), CLOCK, mqtt)
    task = asyncio.create_task(f.run())
    await asyncio.sleep(0.2)  # subscribed
    try:
        yield f
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await mqtt.disconnect()


def _reasons(engine: EngineSide, device: str) -> list[tuple[str, str | None]]:
    return [(a["cmd_id"], a.get("reason")) for a in engine.acks if a["device"] == device]


async def test_farm_rejects_hostile_commands_and_still_plays(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    device, other = "spk-" + secrets.token_hex(4), "spk-" + secrets.token_hex(4)
    async with farm(broker, signer, [device, other]) as f:
        cases = hostile(signer)
        for payload, _, _ in cases:
            await engine.send(device, payload)
        for _, cmd_id, reason in cases:
            await engine.wait(lambda c=cmd_id, r=reason: (c, r) in _reasons(engine, device))
        assert {a["state"] for a in engine.acks if a["device"] == device} == {"rejected"}
        for d in (device, other):  # the farm lives on, for this terminal and every other one
            good = command(signer, CLOCK)
            await engine.send(d, good)
            await engine.wait(lambda d=d, g=good: ("played", None) in engine.states(d, g["id"]))
        assert f.stats()["played"] == 2


async def test_reference_terminal_rejects_hostile_commands_and_still_plays(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    device = "spk-" + secrets.token_hex(4)
    async with terminal(broker, signer, device) as (t, sink):
        cases = hostile(signer)
        for payload, _, _ in cases:
            await engine.send(device, payload)
        for _, cmd_id, reason in cases:
            await engine.wait(lambda c=cmd_id, r=reason: (c, r) in _reasons(engine, device))
        assert not [a for a in t.acks if a["state"] != "rejected"]  # no `failed internal:…`
        good = command(signer, CLOCK)
        await engine.send(device, good)
        await engine.wait(lambda: ("played", None) in engine.states(device, good["id"]))
        assert sink.ended() == [good["id"]]


def test_read_command_limits() -> None:
    assert read_command(b'{"id": "d-1"}') == {"id": "d-1"}
    assert read_command(b"x" * (MAX_COMMAND_BYTES + 1)) == "too_large"
    assert read_command(b'{"t": "' + b"[" * 50 + b'"}') == {"t": "[" * 50}  # brackets in strings are text
    assert read_command(b"[" * 9 + b"]" * 9) == "too_deep"
    assert read_command(b"null") == "not_object"
