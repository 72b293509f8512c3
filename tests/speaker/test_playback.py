"""The play queue without MQTT: ordering, preemption, stop, expiry, a broken sink."""

from __future__ import annotations

import asyncio

from warnengine.clock import ManualClock
from warnengine.speaker.playback import Player, PlayEvent, PlayItem
from warnengine.speaker.sinks import RecordingSink


def item(cmd_id: str, priority: int, warning_id: str = "w", ttl: float = 60, repeat: int = 1) -> PlayItem:
    return PlayItem(cmd_id, warning_id, priority, "x", None, repeat, 80, 1_700_000_000.0 + ttl)


def drain(p: Player) -> list[tuple[str, str, str | None]]:
    out: list[PlayEvent] = []
    while not p.events.empty():
        out.append(p.events.get_nowait())
    return [(e.item.cmd_id, e.state, e.reason) for e in out]


async def test_equal_priority_is_first_come_and_lower_never_interrupts() -> None:
    sink = RecordingSink(0.01)
    p = Player(sink, ManualClock())
    for i in (item("a", 5), item("b", 5), item("c", 2), item("d", 5)):
        p.submit(i)
    await p.idle()
    assert sink.ended() == ["a", "b", "d", "c"]
    assert not any(e == "cut" for e, _, _ in sink.log)


async def test_preempted_item_restarts_after_the_higher_one() -> None:
    sink = RecordingSink(0.05)
    p = Player(sink, ManualClock())
    p.submit(item("low", 1, repeat=2))
    await asyncio.sleep(0.02)
    p.submit(item("high", 9))
    await p.idle()
    assert [(e, c) for e, c, _ in sink.log] == [
        ("start", "low"),
        ("cut", "low"),
        ("start", "high"),
        ("end", "high"),
        ("start", "low"),
        ("end", "low"),
        ("start", "low"),
        ("end", "low"),
    ]
    assert drain(p) == [
        ("low", "playing", None),
        ("high", "playing", None),
        ("high", "played", None),
        ("low", "played", None),
    ]


async def test_stop_expiry_and_sink_errors() -> None:
    clock = ManualClock()
    sink = RecordingSink(0.05)
    p = Player(sink, clock)
    p.submit(item("w1-a", 7, "w1"))
    p.submit(item("w1-b", 7, "w1"))
    p.submit(item("w2", 7, "w2"))
    p.submit(item("short", 3, "w3", ttl=1))
    await asyncio.sleep(0.01)
    assert {i.cmd_id for i in p.stop("w1", by="s-1")} == {"w1-a", "w1-b"}
    clock.advance(2)  # `short` expires while w2 plays
    await p.idle()
    assert sink.ended() == ["w2"]
    events = drain(p)
    assert ("w1-b", "failed", "stopped:s-1") in events and ("w1-a", "failed", "stopped:s-1") in events
    assert ("short", "failed", "expired_in_queue") in events

    class Broken:
        async def play(self, item: PlayItem, volume: int) -> None:
            raise OSError("amplifier gone")

    p = Player(Broken(), clock)
    p.submit(item("x", 9, ttl=100))
    await p.idle()
    assert drain(p) == [("x", "playing", None), ("x", "failed", "sink_error:OSError")]
