"""The replay journal: what a terminal accepted survives a restart, expired entries go, torn lines are
skipped, compaction keeps what is still valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.clock import ManualClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker import journal as journal_mod
from warnengine.speaker.journal import ReplayJournal
from warnengine.speaker.terminal import TerminalLogic, Verdict


def _cmd(signer: Signer, clock: ManualClock, nonce: str, cmd_id: str, ttl: float = 600) -> dict[str, Any]:
    body = {"id": cmd_id, "action": "play", "nonce": nonce, "priority": 9, "text": "x"}
    return signer.sign({**body, "issued_at": clock.now(), "expires_at": clock.now() + ttl})


def _terminal(path: Path, signer: Signer, clock: ManualClock) -> TerminalLogic:
    return TerminalLogic("spk-1", Verifier([signer.public]), clock, journal=ReplayJournal(path))


def test_a_restarted_terminal_still_refuses_the_captured_command(tmp_path: Path) -> None:
    signer, clock, path = Signer(Ed25519PrivateKey.generate()), ManualClock(), tmp_path / "spk-1.journal"
    before = _terminal(path, signer, clock)
    captured = _cmd(signer, clock, "n1", "d-1")
    assert before.decide(captured).verdict == Verdict.PLAY
    before.finished("d-1", "played")
    clock.advance(60)

    after = _terminal(path, signer, clock)  # the box rebooted: a new process, the same journal
    assert after.decide(captured).reason == "replayed"
    resend = after.decide(_cmd(signer, clock, "n2", "d-1"))  # the engine's re-send: ack, do not play
    assert (resend.verdict, resend.state) == (Verdict.DUPLICATE, "played")
    # Without the journal the same bytes would play again: this is what the journal is for.
    forgetful = TerminalLogic("spk-1", Verifier([signer.public]), clock)
    assert forgetful.decide(captured).verdict == Verdict.PLAY


def test_expired_entries_and_torn_lines_are_dropped_on_load(tmp_path: Path) -> None:
    signer, clock, path = Signer(Ed25519PrivateKey.generate()), ManualClock(), tmp_path / "j"
    t = _terminal(path, signer, clock)
    assert t.decide(_cmd(signer, clock, "short", "d-short", ttl=10)).verdict == Verdict.PLAY
    assert t.decide(_cmd(signer, clock, "long", "d-long", ttl=600)).verdict == Verdict.PLAY
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"n": "half-writ')  # a power cut mid-line
    clock.advance(30)
    r = ReplayJournal(path).load(clock.now())
    assert set(r.nonces) == {"long"} and set(r.expiry) == {"d-long"} and r.done == {"d-long": "received"}


def test_compaction_keeps_only_what_is_still_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_mod, "COMPACT_EVERY", 10)
    signer, clock, path = Signer(Ed25519PrivateKey.generate()), ManualClock(), tmp_path / "j"
    t = _terminal(path, signer, clock)
    for i in range(8):  # two lines each (nonce, command): compaction falls due on the way
        assert t.decide(_cmd(signer, clock, f"n{i}", f"d-{i}", ttl=5 + i * 100)).verdict == Verdict.PLAY
        clock.advance(50)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 16  # rewritten at least once
    r = ReplayJournal(path).load(clock.now())
    assert "n0" not in r.nonces and "d-0" not in r.expiry  # expired before the compaction
    assert {"n6", "n7"} <= r.nonces.keys() and {"d-6", "d-7"} <= r.expiry.keys()
    assert not path.with_suffix(".tmp").exists()


def test_an_unwritable_journal_does_not_silence_a_genuine_warning(tmp_path: Path) -> None:
    """A full or read-only disk: the command still plays, its nonce is still refused in memory, and the
    journal says it is failing."""
    signer, clock = Signer(Ed25519PrivateKey.generate()), ManualClock()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the journal's folder should be", encoding="utf-8")
    journal = ReplayJournal(blocked / "spk-1.journal")
    t = TerminalLogic("spk-1", Verifier([signer.public]), clock, journal=journal)
    cmd = _cmd(signer, clock, "n1", "d-1")
    assert t.decide(cmd).verdict == Verdict.PLAY
    assert journal.failing is not None
    assert t.decide(cmd).reason == "replayed"
