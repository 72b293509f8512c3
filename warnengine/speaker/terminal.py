"""What a terminal decides about each command: verify, reject, recognise a duplicate, or play.

Kept free of MQTT so the reference terminal, the simulated farm and hardware integrators share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from warnengine.clock import Clock
from warnengine.signing import CommandVerifier
from warnengine.speaker.journal import Remembered, ReplayJournal
from warnengine.wire.loudspeaker import covers

ACTIONS = frozenset({"play", "stop", "test", "volume"})


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
    expiry: dict[str, float] = field(default_factory=dict)  # command id → expiry, to bound `done`
    received: int = 0
    played: int = 0
    duplicates: int = 0
    rejected: int = 0


class TerminalLogic:
    def __init__(
        self,
        device_id: str,
        verifier: CommandVerifier,
        clock: Clock,
        max_skew_s: float = 300.0,
        village: str | None = None,
        journal: ReplayJournal | None = None,
    ) -> None:
        self.state = TerminalState(device_id)
        self._village = village
        self._verifier = verifier
        self._clock = clock
        self._skew = max_skew_s
        # Without a journal (the simulated farm) nonces live in memory: a restart re-opens replays.
        self._journal = journal
        if journal is not None:
            r = journal.load(clock.now())
            self.state.nonces, self.state.expiry, self.state.done = r.nonces, r.expiry, r.done

    def decide(self, cmd: dict[str, Any]) -> Decision:
        s = self.state
        s.received += 1
        reason = self._verify(cmd) or self._check(cmd)
        if reason:
            s.rejected += 1
            return Decision(Verdict.REJECT, reason)
        cmd_id = str(cmd.get("id", ""))
        now = self._clock.now()
        expires_at = float(cmd["expires_at"])
        # The nonce check comes first: the engine never sends a nonce twice, so a known nonce is a
        # captured command played back (or a redelivery of one already handled), never new work.
        nonce = str(cmd.get("nonce", ""))
        if not nonce or nonce in s.nonces:
            s.rejected += 1
            return Decision(Verdict.REJECT, "replayed" if nonce else "no_nonce")
        self._forget_expired(now)
        s.nonces[nonce] = expires_at
        if self._journal is not None:  # on disk before anything is played or acknowledged
            self._journal.nonce(nonce, expires_at)
        if cmd_id in s.done:
            # The engine re-sends (new nonce, same id) until it hears back: confirm, do not play again.
            s.duplicates += 1
            return Decision(Verdict.DUPLICATE, state=s.done[cmd_id])
        s.done[cmd_id] = "received"  # a re-send arriving while this one plays is a duplicate too
        s.expiry[cmd_id] = expires_at
        self._remember(cmd_id)
        return Decision(Verdict.PLAY)

    def _verify(self, cmd: dict[str, Any]) -> str | None:
        """The signature's verdict. Odd field types (`"key_id": []`, a number for a signature) are a bad
        signature, whichever verifier an integrator plugs in: never an exception out of a terminal."""
        try:
            return self._verifier.verify(cmd)
        except (TypeError, ValueError, AttributeError):
            return "bad_signature"

    def _check(self, cmd: dict[str, Any]) -> str | None:
        """Times, action and addressing of a correctly signed command; the reason it is refused, or None."""
        now = self._clock.now()
        try:
            expires_at, issued_at = float(cmd["expires_at"]), float(cmd["issued_at"])
        except (KeyError, TypeError, ValueError):
            return "bad_times"
        if expires_at <= now:
            return "expired"
        if issued_at > now + self._skew:
            return "issued_in_future"
        if cmd.get("action", "play") not in ACTIONS:
            return "bad_action"
        # Optional signed addressing: a command captured at one terminal cannot be played at another.
        if cmd.get("device") not in (None, self.state.device_id):
            return "wrong_device"
        if self._village and cmd.get("village") not in (None, self._village):
            return "wrong_village"
        return self._check_group(cmd.get("group"))

    def _check_group(self, group: object) -> str | None:
        """A group command (signed `group` cell) must be for a cell this terminal is under; a terminal that
        does not know its village cannot tell, so it refuses every group command."""
        if group is None:
            return None
        if not isinstance(group, str) or not self._village or not covers(group, self._village):
            return "wrong_group"
        return None

    def progress(self, cmd_id: str, state: str) -> None:
        """Remember the newest state of a command, so a re-send is confirmed with it."""
        if cmd_id in self.state.done:
            self.state.done[cmd_id] = state
            self._remember(cmd_id)

    def finished(self, cmd_id: str, state: str) -> None:
        self.state.done[cmd_id] = state
        self._remember(cmd_id)
        if state == "played":
            self.state.played += 1

    def _remember(self, cmd_id: str) -> None:
        s = self.state
        if self._journal is not None and cmd_id in s.expiry:
            self._journal.command(cmd_id, s.expiry[cmd_id], s.done[cmd_id])

    def _forget_expired(self, now: float) -> None:
        # A replayed command past its expiry is rejected as expired, so its nonce and id can be dropped.
        s = self.state
        compact = self._journal is not None and self._journal.due_compaction()
        if compact or len(s.nonces) > 1000:
            s.nonces = {n: e for n, e in s.nonces.items() if e > now}
        if compact or len(s.expiry) > 1000:
            s.expiry = {c: e for c, e in s.expiry.items() if e > now}
            s.done = {c: st for c, st in s.done.items() if c in s.expiry}
        if compact and self._journal is not None:
            self._journal.compact(Remembered(s.nonces, s.expiry, s.done))
