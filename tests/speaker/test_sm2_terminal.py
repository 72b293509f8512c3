"""SM2/SM3 terminals over a real Mosquitto: the reference terminal with the engine's SM2 public key plays
SM2-signed commands and refuses Ed25519 ones (and an Ed25519 terminal the other way round); the engine's
dispatch signs each terminal of one warning with its own algorithm and every one of them plays."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from channels.loudspeaker import LoudspeakerChannel
from tests.dispatch.test_signing_per_terminal import POLICY, _mixed
from tests.plan.conftest import planned_village
from tests.speaker.broker import VILLAGE, EngineSide, command
from warnengine.clock import SystemClock
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.stage import dispatch_loudspeakers
from warnengine.model import command_id
from warnengine.signing import CommandVerifier, Signers, load_or_create_signer, load_verifiers, public_path
from warnengine.signing.sm2 import Sm2Signer, load_or_create_sm2_signer
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import RecordingSink

CLOCK = SystemClock()


@asynccontextmanager
async def terminal(
    port: int, verifier: CommandVerifier, device: str, village: str = VILLAGE
) -> AsyncIterator[RecordingSink]:
    sink = RecordingSink(0.0)
    link = LinkConfig("127.0.0.1", port, f"spk-{device}-{secrets.token_hex(3)}", protocol="5")
    t = ReferenceTerminal(TerminalConfig(device, village, link, heartbeat_s=30), verifier, sink, CLOCK)
    await t.start()
    try:
        yield sink
    finally:
        await t.stop()


async def test_sm2_terminal_plays_sm2_and_refuses_ed25519(
    broker: int, engine: EngineSide, tmp_path: Path
) -> None:
    ed = load_or_create_signer(tmp_path / "engine.key")
    sm2 = load_or_create_sm2_signer(tmp_path / "engine.sm2.key")
    sm2_device, ed_device = "spk-sm2-" + secrets.token_hex(3), "spk-ed-" + secrets.token_hex(3)
    # As `warnengine speaker --public-key engine.sm2.key.pub` builds it: the key file decides the algorithm.
    sm2_only = load_verifiers([public_path(tmp_path / "engine.sm2.key")])
    ed_only = load_verifiers([public_path(tmp_path / "engine.key")])
    async with (
        terminal(broker, sm2_only, sm2_device) as sm2_sink,
        terminal(broker, ed_only, ed_device) as ed_sink,
    ):
        good = command(sm2, CLOCK)
        await engine.send(sm2_device, good)
        await engine.wait(lambda: ("played", None) in engine.states(sm2_device, good["id"]))

        cases = {
            "unsupported_alg": command(ed, CLOCK),  # a genuine engine command, but Ed25519: a downgrade
            "bad_signature": {**command(sm2, CLOCK), "text": "假警报：水库垮坝"},
            "unknown_key": command(Sm2Signer.generate(), CLOCK),
            "unsigned": {k: v for k, v in command(sm2, CLOCK).items() if k != "sig"},
        }
        for cmd in cases.values():
            await engine.send(sm2_device, cmd)
        upgrade = command(sm2, CLOCK, device=ed_device)
        await engine.send(ed_device, upgrade)  # an SM2 command at an Ed25519-only terminal
        for reason, cmd in cases.items():
            await engine.wait(lambda c=cmd, r=reason: ("rejected", r) in engine.states(sm2_device, c["id"]))
        await engine.wait(lambda: ("rejected", "unsupported_alg") in engine.states(ed_device, upgrade["id"]))
        assert sm2_sink.ended() == [good["id"]] and ed_sink.ended() == []


async def test_dispatch_to_mixed_terminals_over_mqtt(
    broker: int, engine: EngineSide, store: Store, small_county: County, tmp_path: Path
) -> None:
    """One warning, one village: the terminals registered sm2-sm3 trust only the engine's SM2 key, the
    others only its Ed25519 key; each plays, so each got a command signed the way it accepts."""
    store.clock.advance(CLOCK.now() - store.clock.now())  # type: ignore[attr-defined]  # terminals: real time
    county, village, sm2 = _mixed(small_county)
    w, _ = await planned_village(store, county, "w-mqtt-" + secrets.token_hex(3))
    keys = tmp_path / "keys"
    signers = Signers(load_or_create_signer(keys / "engine.key"), sm2_key_file=keys / "engine.sm2.key")
    signers.sm2()  # provisioned before the terminals start, as in the field: they are given its .pub
    devices = sorted(d.device_id for d in county.devices if d.cell_code == village)
    channel = LoudspeakerChannel("127.0.0.1", broker, "test-dispatch-" + secrets.token_hex(3), protocol=5)
    await channel.start()
    try:
        async with AsyncExitStack() as stack:
            for device in devices:
                key = keys / ("engine.sm2.key" if device in sm2 else "engine.key")
                await stack.enter_async_context(
                    terminal(broker, load_verifiers([public_path(key)]), device, village)
                )
            res = await dispatch_loudspeakers([(w, village)], store, channel, signers, POLICY)
            assert res.sent == len(devices)
            cmd = command_id(w.warning_id, w.version)  # per warning version; topics name terminals
            assert {d.recipient for d in await _deliveries(store, w.warning_id)} == set(devices)
            for device in devices:
                await engine.wait(lambda d=device: ("played", None) in engine.states(d, cmd), timeout=10)
            rejected = [a for a in engine.acks if a["device"] in devices and a["state"] == "rejected"]
            assert rejected == []
    finally:
        await channel.stop()


async def _deliveries(store: Store, warning_id: str) -> list[Any]:
    from sqlalchemy import select

    from warnengine.db import tables as t

    async with store.engine.connect() as conn:
        d = t.deliveries.c
        q = select(d.recipient, d.delivery_id).where(d.warning_id == warning_id, d.channel == "loudspeaker")
        return list((await conn.execute(q)).all())
