"""The terminal's play queue: priorities, preemption, stop, expiry. No MQTT, so integrators can reuse it.

Rules: the highest priority plays first, equal priorities in arrival order. A higher priority interrupts
the one playing, which goes back to the queue and starts again from the top once the higher one is done
(a yellow warning cut off by a red one is still heard in full). A lower or equal priority never interrupts.
Progress comes out as events on `Player.events`, which the terminal turns into acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol

from warnengine.clock import Clock


@dataclass(frozen=True)
class PlayItem:
    cmd_id: str
    warning_id: str
    priority: int
    text: str
    audio_url: str | None
    repeat: int
    volume: int
    expires_at: float

    @classmethod
    def from_command(cls, cmd: dict[str, Any]) -> PlayItem:
        """From a verified command (TerminalLogic has checked signature and times)."""
        return cls(
            cmd_id=str(cmd.get("id", "")),
            warning_id=str(cmd.get("warning_id", "")),
            priority=_int(cmd.get("priority"), 0, 0, 9),
            text=str(cmd.get("text") or ""),
            audio_url=str(cmd["audio_url"]) if cmd.get("audio_url") else None,
            repeat=_int(cmd.get("repeat"), 1, 1, 20),
            volume=_int(cmd.get("volume"), 80, 0, 100),
            expires_at=float(cmd["expires_at"]),
        )


def _int(v: Any, default: int, lo: int, hi: int) -> int:
    try:
        return min(hi, max(lo, int(v)))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class PlayEvent:
    item: PlayItem
    state: str  # playing | played | failed (the ack states a player can produce)
    reason: str | None = None


class Sink(Protocol):
    """Makes the sound. `play` must be cancellable: preemption and `stop` cancel it mid-way."""

    async def play(self, item: PlayItem, volume: int) -> None: ...


@dataclass
class _Current:
    item: PlayItem
    seq: int
    task: asyncio.Task[None]
    cancel_reason: str | None = None  # "preempted" | "stopped:<cmd id>"


@dataclass
class Player:
    sink: Sink
    clock: Clock
    volume: int | None = None  # terminal master volume; None plays each item at its own volume
    events: asyncio.Queue[PlayEvent] = field(default_factory=asyncio.Queue)
    _queue: list[tuple[int, int, PlayItem]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _current: _Current | None = None
    _started: set[str] = field(default_factory=set)  # cmd ids that already reported `playing`

    @property
    def playing(self) -> PlayItem | None:
        return self._current.item if self._current else None

    @property
    def queued(self) -> list[PlayItem]:
        return [it for _, _, it in sorted(self._queue)]

    def submit(self, item: PlayItem) -> None:
        self._push(item, next(self._seq))
        cur = self._current
        if cur and cur.cancel_reason is None and item.priority > cur.item.priority:
            cur.cancel_reason = "preempted"
            cur.task.cancel()
        self._kick()

    def stop(self, warning_id: str, by: str, max_priority: int = 9) -> list[PlayItem]:
        """Stop (queued and playing) items of a warning, or of every warning when `warning_id` is "*".

        Returns what was stopped; their `failed` events carry reason `stopped:<by>`.
        """

        def hit(it: PlayItem) -> bool:
            return it.priority <= max_priority and warning_id in ("*", it.warning_id)

        stopped = [it for _, _, it in self._queue if hit(it)]
        self._queue = [e for e in self._queue if not hit(e[2])]
        heapq.heapify(self._queue)
        for it in stopped:
            self._emit(it, "failed", f"stopped:{by}")
        cur = self._current
        if cur and cur.cancel_reason is None and hit(cur.item):
            cur.cancel_reason = f"stopped:{by}"
            cur.task.cancel()
            stopped.append(cur.item)
        return stopped

    async def close(self) -> None:
        cur = self._current
        self._queue.clear()
        if cur:
            cur.cancel_reason = "shutdown"
            cur.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cur.task

    async def idle(self) -> None:
        """Wait until nothing plays and nothing is queued (tests, `--once`)."""
        while self._current or self._queue:
            if self._current:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self._current.task)
            else:
                await asyncio.sleep(0)

    # -- internals ---------------------------------------------------------------------------------

    def _push(self, item: PlayItem, seq: int) -> None:
        heapq.heappush(self._queue, (-item.priority, seq, item))

    def _emit(self, item: PlayItem, state: str, reason: str | None = None) -> None:
        self.events.put_nowait(PlayEvent(item, state, reason))

    def _kick(self) -> None:
        """Start the best queued item if nothing plays (a cancelled item kicks again when it ends)."""
        if self._current is not None:
            return
        while self._queue:
            _, seq, item = heapq.heappop(self._queue)
            if item.expires_at <= self.clock.now():
                self._emit(item, "failed", "expired_in_queue")
                continue
            task = asyncio.get_running_loop().create_task(self._play(item))
            self._current = _Current(item, seq, task)
            return

    async def _play(self, item: PlayItem) -> None:
        if item.cmd_id not in self._started:
            self._started.add(item.cmd_id)
            self._emit(item, "playing")
        outcome: tuple[str, str | None] | None = None
        try:
            for n in range(item.repeat):
                # Finish a repeat already begun, but do not start one after the command expired.
                if n and item.expires_at <= self.clock.now():
                    break
                await self.sink.play(item, self.volume if self.volume is not None else item.volume)
            outcome = ("played", None)
        except asyncio.CancelledError:
            cur = self._current
            why = cur.cancel_reason if cur else None
            if why == "preempted" and cur is not None:
                self._push(item, cur.seq)  # keeps its place ahead of later items of its priority
            elif why and why.startswith("stopped:"):
                outcome = ("failed", why)
            elif why != "shutdown":
                raise
        except Exception as e:  # a broken sink fails this item, never the terminal
            outcome = ("failed", f"sink_error:{type(e).__name__}")
        finally:
            if outcome:
                self._started.discard(item.cmd_id)
                self._emit(item, *outcome)
            self._current = None
            if self._queue:
                self._kick()
