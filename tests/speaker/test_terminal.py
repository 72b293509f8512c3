from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.clock import ManualClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker.terminal import TerminalLogic, Verdict


def _setup() -> tuple[Signer, TerminalLogic, ManualClock]:
    signer = Signer(Ed25519PrivateKey.generate())
    clock = ManualClock()
    return signer, TerminalLogic("spk-1", Verifier([signer.public]), clock), clock


def _cmd(
    signer: Signer, clock: ManualClock, nonce: str = "n1", cmd_id: str = "d-1", ttl: float = 60
) -> dict[str, Any]:
    return signer.sign(
        {
            "id": cmd_id,
            "action": "play",
            "issued_at": clock.now(),
            "expires_at": clock.now() + ttl,
            "nonce": nonce,
            "priority": 9,
            "text": "x",
        }
    )


def test_play_then_duplicate_by_id() -> None:
    signer, t, clock = _setup()
    assert t.decide(_cmd(signer, clock)).verdict == Verdict.PLAY
    t.finished("d-1", "played")
    # The engine re-sends the same command id with a fresh nonce: acknowledged again, not replayed.
    d = t.decide(_cmd(signer, clock, nonce="n2"))
    assert (d.verdict, d.state) == (Verdict.DUPLICATE, "played")
    assert t.state.played == 1 and t.state.duplicates == 1


def test_rejections() -> None:
    signer, t, clock = _setup()
    forged = {**_cmd(signer, clock), "text": "假警报"}
    assert t.decide(forged).reason == "bad_signature"
    assert t.decide({"id": "x"}).reason == "unsigned"
    assert t.decide(_cmd(signer, clock, ttl=-1)).reason == "expired"
    ok = _cmd(signer, clock, nonce="n9", cmd_id="d-9")
    assert t.decide(ok).verdict == Verdict.PLAY
    replay = _cmd(signer, clock, nonce="n9", cmd_id="d-10")  # a captured nonce on another command
    assert t.decide(replay).reason == "replayed"
    future = signer.sign({**_cmd(signer, clock, nonce="n11"), "issued_at": clock.now() + 3600})
    assert t.decide(future).reason == "issued_in_future"
    assert t.state.rejected == 5
