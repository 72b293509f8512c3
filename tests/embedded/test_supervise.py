"""Supervisor: real child processes (a tiny Python script), a hand-driven clock for the backoff."""

from __future__ import annotations

import subprocess
import sys
import time

from prometheus_client import REGISTRY

from warnengine.embedded.supervise import Backoff, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def restarted(child: str) -> float:
    return REGISTRY.get_sample_value("warnengine_supervised_restarts_total", {"child": child}) or 0.0


def wait_exit(p: subprocess.Popen[bytes] | None) -> None:
    assert p is not None
    deadline = time.monotonic() + 10
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_killed_child_is_reaped_and_restarted_with_doubling_backoff() -> None:
    clock = Clock()
    sup = Supervisor(Backoff(initial=0.5, maximum=2.0, reset_after=60.0), clock=clock)
    before = restarted("sleeper")
    try:
        first = sup.add("sleeper", sleeper)
        first.kill()
        wait_exit(first)
        assert sup.poll() == []  # exited: reaped, restart due in 0.5 s
        assert first.returncode is not None
        clock.now += 0.5
        assert sup.poll() == ["sleeper"]
        second = sup.children["sleeper"].proc
        assert second is not None and second.pid != first.pid and second.poll() is None
        delays = []
        for _ in range(3):
            proc = sup.children["sleeper"].proc
            assert proc is not None
            proc.kill()
            wait_exit(proc)
            sup.poll()
            due = sup.children["sleeper"].due_at
            assert due is not None
            delays.append(due - clock.now)
            clock.now = due
            assert sup.poll() == ["sleeper"]
        assert delays == [1.0, 2.0, 2.0]  # doubling, capped at the maximum
        assert sup.restarts == {"sleeper": 4}
        assert restarted("sleeper") == before + 4
    finally:
        sup.stop()
    assert all(c.proc is not None and c.proc.returncode is not None for c in sup.children.values())


def test_backoff_resets_after_a_minute_up_and_after_restart_runs() -> None:
    clock = Clock()
    calls: list[str] = []
    sup = Supervisor(Backoff(initial=0.5, maximum=30.0, reset_after=60.0), clock=clock)
    try:
        sup.add("a", sleeper, after_restart=lambda: calls.append("a"))
        child = sup.children["a"]
        child.delay = 8.0  # as after several quick crashes
        clock.now += 61
        assert child.proc is not None
        child.proc.kill()
        wait_exit(child.proc)
        sup.poll()
        assert child.due_at == clock.now + 0.5
        clock.now += 0.5
        assert sup.poll() == ["a"]
        assert calls == ["a"]
    finally:
        sup.stop()


def test_restart_now_and_stop_leave_no_running_child() -> None:
    sup = Supervisor()
    first = sup.add("w", sleeper)
    sup.restart_now("w")
    assert first.returncode is not None
    second = sup.children["w"].proc
    assert second is not None and second.poll() is None
    sup.stop()
    assert second.returncode is not None
    assert sup.poll() == []  # stopped: nothing is restarted
