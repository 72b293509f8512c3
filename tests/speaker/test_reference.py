"""The reference terminal against a real Mosquitto: verification, preemption, stop, volume, sessions."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.speaker.broker import VILLAGE, EngineSide, command
from warnengine.clock import SystemClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import RecordingSink

CLOCK = SystemClock()


@asynccontextmanager
async def terminal(
    port: int,
    signer: Signer,
    device: str,
    seconds: float = 0.0,
    client_id: str | None = None,
    journal: Path | None = None,
) -> AsyncIterator[tuple[ReferenceTerminal, RecordingSink]]:
    sink = RecordingSink(seconds)
    link = LinkConfig("127.0.0.1", port, client_id or f"spk-{device}", protocol="5")
    cfg = TerminalConfig(device, VILLAGE, link, heartbeat_s=30, journal=journal)
    t = ReferenceTerminal(cfg, Verifier([signer.public]), sink, CLOCK)
    await t.start()
    try:
        yield t, sink
    finally:
        await t.stop()


def dev() -> str:
    return "spk-" + secrets.token_hex(4)


async def test_forged_expired_replayed_and_foreign_commands_are_rejected(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    device = dev()
    async with terminal(broker, signer, device) as (_, sink):
        good = command(signer, CLOCK)
        await engine.send(device, good)
        await engine.wait(lambda: ("played", None) in engine.states(device, good["id"]))

        stranger = Signer(Ed25519PrivateKey.generate())
        cases = {
            "bad_signature": {**command(signer, CLOCK), "text": "假警报：水库垮坝"},  # altered after signing
            "unsigned": {k: v for k, v in command(signer, CLOCK).items() if k != "sig"},
            "unknown_key": command(stranger, CLOCK),
            "expired": command(signer, CLOCK, issued_at=CLOCK.now() - 120, expires_at=CLOCK.now() - 60),
            "wrong_device": command(signer, CLOCK, device="spk-other"),
            "replayed": good,  # the captured bytes of a command already played
        }
        for cmd in cases.values():
            await engine.send(device, cmd)
        await engine.send(device, b"\xff not json")
        for reason, cmd in cases.items():
            await engine.wait(lambda c=cmd, r=reason: ("rejected", r) in engine.states(device, c["id"]))
        await engine.wait(lambda: ("rejected", "not_json") in engine.states(device, "?"))
        assert sink.ended() == [good["id"]]  # nothing but the genuine command ever made a sound
        assert engine.states(device, good["id"])[:3] == [
            ("received", None),
            ("playing", None),
            ("played", None),
        ]


async def test_higher_priority_preempts_and_lower_waits(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    device = dev()
    async with terminal(broker, signer, device, seconds=0.4) as (t, sink):
        routine = command(signer, CLOCK, priority=1, warning_id="routine", volume=50)
        red = command(signer, CLOCK, priority=9, warning_id="w-red")
        blue = command(signer, CLOCK, priority=3, warning_id="w-blue")
        await engine.send(device, routine)
        await engine.wait(lambda: ("playing", None) in engine.states(device, routine["id"]))
        await engine.send(device, red)
        await engine.wait(lambda: ("playing", None) in engine.states(device, red["id"]))
        await engine.send(device, blue)  # lower than the red one playing: waits its turn
        await engine.wait(lambda: ("played", None) in engine.states(device, routine["id"]), timeout=5)
        assert sink.ended() == [red["id"], blue["id"], routine["id"]]
        assert ("cut", routine["id"], 80) in sink.log  # routine plays at the terminal's volume
        assert sink.log[0] == ("start", routine["id"], 80)
        # `playing` is reported once even though the routine broadcast started twice.
        assert engine.states(device, routine["id"]).count(("playing", None)) == 1
        assert t.player.playing is None


async def test_stop_volume_and_silent_test_actions(broker: int, signer: Signer, engine: EngineSide) -> None:
    device = dev()
    async with terminal(broker, signer, device, seconds=5.0) as (_, sink):
        warning = command(signer, CLOCK, warning_id="w-cancelled", priority=7)
        await engine.send(device, warning)
        await engine.wait(lambda: ("playing", None) in engine.states(device, warning["id"]))
        await engine.wait(lambda: any(s["playing"] == warning["id"] for s in engine.statuses(device)))
        stop = command(signer, CLOCK, action="stop", warning_id="w-cancelled", text="")
        await engine.send(device, stop)
        await engine.wait(lambda: ("played", None) in engine.states(device, stop["id"]))
        await engine.wait(lambda: ("failed", f"stopped:{stop['id']}") in engine.states(device, warning["id"]))
        assert ("cut", warning["id"], 100) in sink.log

        vol = command(signer, CLOCK, action="volume", volume=35, priority=0, text="")
        await engine.send(device, vol)
        await engine.wait(lambda: any(s["volume"] == 35 for s in engine.statuses(device)))
        sink.seconds = 0.0
        # `test` is a silent link test (issue 18): answered done at once, nothing played.
        test = command(signer, CLOCK, action="test", priority=0, text="")
        await engine.send(device, test)
        await engine.wait(lambda: ("played", None) in engine.states(device, test["id"]))
        assert engine.states(device, test["id"]) == [("received", None), ("played", None)]
        assert not any(cmd_id == test["id"] for _, cmd_id, _ in sink.log)


async def test_reconnect_gets_the_still_valid_command_once(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    """Commands sent while a terminal is away wait in its session; expired ones are dropped."""
    device = dev()
    async with terminal(broker, signer, device):
        pass  # subscribed once: the broker now keeps the session (and its queue) for this client id
    valid = command(signer, CLOCK)
    short = command(signer, CLOCK, expires_at=round(CLOCK.now() + 1, 3))
    resend = signer.sign({**{k: v for k, v in valid.items() if k != "sig"}, "nonce": secrets.token_hex(12)})
    await engine.send(device, valid, expiry_s=60)
    await engine.send(device, short, expiry_s=1)
    await engine.send(device, resend, expiry_s=60)  # the engine's re-send: same id, new nonce
    await engine.wait(lambda: any(not s["online"] for s in engine.statuses(device)))
    await asyncio.sleep(2.1)  # `short` expires at the broker (whole seconds there)
    async with terminal(broker, signer, device) as (_t, sink):
        await engine.wait(lambda: ("played", None) in engine.states(device, valid["id"]))
        await engine.wait(lambda: any(r == "duplicate" for _, r in engine.states(device, valid["id"])))
    assert sink.ended() == [valid["id"]]  # played once, although it arrived twice
    assert engine.states(device, short["id"]) == []  # never delivered: MQTT 5 message expiry
    assert [r for _, r in engine.states(device, valid["id"])].count("duplicate") == 1


async def test_a_rebooted_terminal_refuses_a_command_captured_before(
    broker: int, signer: Signer, engine: EngineSide, tmp_path: Path
) -> None:
    """A captured command is validly signed until it expires; the journal keeps its nonce across the
    restart, so playing the recording back after a reboot makes no sound."""
    device, journal = dev(), tmp_path / "spk.journal"
    good = command(signer, CLOCK)
    async with terminal(broker, signer, device, journal=journal) as (_t, sink):
        await engine.send(device, good)
        await engine.wait(lambda: ("played", None) in engine.states(device, good["id"]))
    assert sink.ended() == [good["id"]]
    async with terminal(broker, signer, device, journal=journal) as (_t, sink):  # rebooted
        await engine.send(device, good)  # the attacker's recording of the earlier command
        await engine.wait(lambda: ("rejected", "replayed") in engine.states(device, good["id"]))
        fresh = command(signer, CLOCK)  # the engine's next warning still plays
        await engine.send(device, fresh)
        await engine.wait(lambda: ("played", None) in engine.states(device, fresh["id"]))
    assert sink.ended() == [fresh["id"]]
