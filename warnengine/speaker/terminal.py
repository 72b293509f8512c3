"""What a terminal decides about each command: verify, reject, recognise a duplicate, or play.

Kept free of MQTT so the reference terminal, the simulated farm and hardware integrators share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from warnengine.clock import Clock
from warnengine.signing import Verifier


class Verdict(StrEnum):
    PLAY = "play"
    DUPLICATE = "duplicate"  # same command id already handled: ack again, do not play again
    REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None
    state: str | None = None  # for duplicates: the state to report again


@dataclass
class TerminalState:
    device_id: str
    done: dict[str, str] = field(default_factory=dict)  # command id → last state acked
    nonces: dict[str, float] = field(default_factory=dict)  # nonce → command expiry, for replay checks
    received: int = 0
    played: int = 0
    duplicates: int = 0
    rejected: int = 0


class TerminalLogic:
    def __init__(self, device_id: str, verifier: Verifier, clock: Clock, max_skew_s: float = 300.0) -> None:
        self.state = TerminalState(device_id)
        self._verifier = verifier
        self._clock = clock
        self._skew = max_skew_s

    def decide(self, cmd: dict[str, Any]) -> Decision:
        s = self.state
        s.received += 1
        reason = self._verifier.verify(cmd)
        if reason:
            s.rejected += 1
            return Decision(Verdict.REJECT, reason)
        cmd_id = str(cmd.get("id", ""))
        now = self._clock.now()
        try:
            expires_at, issued_at = float(cmd["expires_at"]), float(cmd["issued_at"])
        except (KeyError, TypeError, ValueError):
            s.rejected += 1
            return Decision(Verdict.REJECT, "bad_times")
        if expires_at <= now:
            s.rejected += 1
            return Decision(Verdict.REJECT, "expired")
        if issued_at > now + self._skew:
            s.rejected += 1
            return Decision(Verdict.REJECT, "issued_in_future")
        if cmd_id in s.done:
            # The engine re-sends (new nonce, same id) until it hears back: confirm, do not replay audio.
            s.duplicates += 1
            return Decision(Verdict.DUPLICATE, state=s.done[cmd_id])
        nonce = str(cmd.get("nonce", ""))
        if not nonce or nonce in s.nonces:
            s.rejected += 1
            return Decision(Verdict.REJECT, "replayed" if nonce else "no_nonce")
        self._forget_expired(now)
        s.nonces[nonce] = expires_at
        return Decision(Verdict.PLAY)

    def finished(self, cmd_id: str, state: str) -> None:
        self.state.done[cmd_id] = state
        if state == "played":
            self.state.played += 1

    def _forget_expired(self, now: float) -> None:
        # A replayed command past its expiry is rejected as expired, so its nonce can be dropped.
        if len(self.state.nonces) > 1000:
            self.state.nonces = {n: e for n, e in self.state.nonces.items() if e > now}
