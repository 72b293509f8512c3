"""Supervision of the child processes `warnengine up` starts (brokers, workers, terminal farm).

A child that exits is reaped (no zombies) and started again by the same start function (so on the same
port), after a backoff: `initial` seconds, doubling up to `maximum`, back to `initial` once a child has
stayed up for `reset_after` seconds. Each restart is logged and counted
(`warnengine_supervised_restarts_total{child=...}` and `Supervisor.restarts`).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter

log = structlog.get_logger("warnengine.supervise")

RESTARTS = Counter(
    "warnengine_supervised_restarts_total", "Child processes of `warnengine up` restarted", ["child"]
)

Start = Callable[[], "subprocess.Popen[bytes]"]


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 60.0


@dataclass
class Child:
    name: str
    start: Start
    after_restart: Callable[[], None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = 0.0
    due_at: float | None = None  # when an exited child is to be started again
    restarts: int = 0


@dataclass
class Supervisor:
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False

    def add(
        self, name: str, start: Start, after_restart: Callable[[], None] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a child now and supervise it from then on."""
        child = Child(name, start, after_restart, delay=self.backoff.initial)
        self.children[name] = child
        self._start(child)
        assert child.proc is not None
        return child.proc

    def adopt(
        self,
        name: str,
        proc: subprocess.Popen[bytes],
        start: Start,
        after_restart: Callable[[], None] | None = None,
    ) -> None:
        """Supervise a child someone else started; `start` starts a replacement."""
        child = Child(
            name, start, after_restart, proc=proc, started_at=self.clock(), delay=self.backoff.initial
        )
        self.children[name] = child

    @property
    def restarts(self) -> dict[str, int]:
        return {c.name: c.restarts for c in self.children.values()}

    def _start(self, child: Child) -> None:
        child.proc = child.start()
        child.started_at = self.clock()
        child.due_at = None

    def restart_now(self, name: str) -> None:
        """Stop a child (if running) and start it again at once, e.g. workers after a broker restart."""
        child = self.children[name]
        if child.proc is not None and child.proc.poll() is None:
            child.proc.terminate()
            try:
                child.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        self._restarted(child, reason="requested")

    def poll(self) -> list[str]:
        """Reap exited children, schedule their restart, start those due. Returns the names started."""
        started: list[str] = []
        now = self.clock()
        for child in list(self.children.values()):
            if self.stopping:
                break
            if child.due_at is None and child.proc is not None and child.proc.poll() is not None:
                if now - child.started_at >= self.backoff.reset_after:
                    child.delay = self.backoff.initial
                child.due_at = now + child.delay
                log.warning(
                    "child_exited",
                    child=child.name,
                    returncode=child.proc.returncode,
                    restart_in_s=child.delay,
                    message=f"子进程 {child.name} 已退出，{child.delay:g} 秒后重启 / "
                    f"child {child.name} exited, restarting in {child.delay:g}s",
                )
                child.delay = min(child.delay * 2, self.backoff.maximum)
            if child.due_at is not None and now >= child.due_at:
                self._restarted(child, reason="exited")
                started.append(child.name)
        return started

    def _restarted(self, child: Child, reason: str) -> None:
        self._start(child)
        child.restarts += 1
        RESTARTS.labels(child=child.name).inc()
        assert child.proc is not None
        log.warning(
            "child_restarted",
            child=child.name,
            pid=child.proc.pid,
            reason=reason,
            restarts=child.restarts,
            message=f"子进程 {child.name} 已重启 / child {child.name} restarted",
        )
        if child.after_restart is not None:
            child.after_restart()

    async def run(self, interval: float = 0.2) -> None:
        """Poll until stop() (the blocking start functions run in a thread)."""
        while not self.stopping:
            await asyncio.to_thread(self.poll)
            await asyncio.sleep(interval)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop supervising and terminate every child (reaped; killed when it will not go)."""
        self.stopping = True
        procs = [c.proc for c in reversed(list(self.children.values())) if c.proc is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
