"""叫应 by the duty roster (SQLite and PostgreSQL, the clock moved by hand): the silent village grid head's
call goes to the township's post A, then B, then the deputy, then the county's duty; a shift change in
between sends the next call to the new holder; an acknowledged 叫应 stops the chain; a rostered cell with
nobody on duty falls back to the directory and is counted."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from tests.escalate.test_ladder import Ladder, rows, start
from warnengine.acks.people import apply_app_acks
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.rows import CALL_STEP
from warnengine.model import Role
from warnengine.model.duty import Post, Shift
from warnengine.wire.records import AppAck

HOUR = 3600.0


def staff(lad: Ladder, cell: str, role: Role) -> list[str]:
    return [s.person_id for s in lad.directory.staff.get(cell, []) if s.role is role]


async def calls_about(lad: Ladder, person: str) -> list[dict[str, Any]]:
    mine = await rows(lad.store, t.duty_calls, warning_id=lad.w.warning_id, person_id=person)
    return sorted(mine, key=lambda r: r["rung"])


async def roster(lad: Ladder) -> dict[str, str]:
    """Township: A d1 until 12 min after the warning, then A d2; B, deputy all day. County: A all day."""
    t0 = lad.clock.now()
    town = lad.directory.cells[lad.village].parent
    assert town is not None
    county = lad.directory.cells[town].parent
    assert county is not None
    d1, d2 = staff(lad, town, Role.DISPATCHER)[:2]
    (deputy,) = staff(lad, town, Role.GRID_HEAD)
    chief = staff(lad, county, Role.GRID_HEAD)[0]
    b = staff(lad, county, Role.DISPATCHER)[0]  # a county dispatcher holds the township's post B
    shifts = [
        Shift(town, Role.DISPATCHER, Post.A, d1, t0 - 8 * HOUR, t0 + 12 * 60),
        Shift(town, Role.DISPATCHER, Post.A, d2, t0 + 12 * 60, t0 + 16 * HOUR),
        Shift(town, Role.DISPATCHER, Post.B, b, t0 - 8 * HOUR, t0 + 16 * HOUR),
        Shift(town, Role.GRID_HEAD, Post.DEPUTY, deputy, t0 - 8 * HOUR, t0 + 16 * HOUR),
        Shift(county, Role.GRID_HEAD, Post.A, chief, t0 - 8 * HOUR, t0 + 16 * HOUR),
    ]
    await lad.store.replace_roster(shifts)
    return {"d1": d1, "d2": d2, "b": b, "deputy": deputy, "chief": chief}


async def sweep_at(lad: Ladder, t0: float, minutes: float) -> None:
    lad.clock.advance(minutes * 60 - (lad.clock.now() - t0))
    await lad.sweep()


async def test_silent_grid_head_is_called_up_the_duty_chain_until_acknowledged(
    store: Store, small_county: County
) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    who = await roster(lad)
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)  # silent, as every village staff but group leaders
    await sweep_at(lad, t0, 6)
    assert [c["target_id"] for c in await calls_about(lad, head)] == [who["d1"]]
    first = (await calls_about(lad, head))[0]
    assert first["post"] == "A" and first["rung"] == 0
    # Within the window: no second call.
    await sweep_at(lad, t0, 10)
    assert len(await calls_about(lad, head)) == 1
    # d1 silent 5 minutes; the A shift changed at 12: the next call goes to the new A holder, d2.
    await sweep_at(lad, t0, 12)
    await sweep_at(lad, t0, 16)
    assert [c["target_id"] for c in await calls_about(lad, head)] == [who["d1"], who["d2"]]
    await sweep_at(lad, t0, 21.5)
    await sweep_at(lad, t0, 27)
    called = await calls_about(lad, head)
    assert [c["target_id"] for c in called] == [who["d1"], who["d2"], who["b"], who["deputy"]]
    assert [c["post"] for c in called] == ["A", "A", "B", "deputy"]
    await sweep_at(lad, t0, 32.5)
    called = await calls_about(lad, head)
    assert called[-1]["target_id"] == who["chief"] and called[-1]["cell_code"] != called[0]["cell_code"]
    # Each call is a 叫应 message naming the silent grid head and who did not answer before.
    calls = [d for d in await lad.deliveries() if d["step"] >= CALL_STEP and d["person_id"] == who["chief"]]
    calls = [d for d in calls if head in d["text"]]
    assert calls and all(who["deputy"] in d["text"] for d in calls)
    assert len({d["step"] for d in calls}) == 1 and calls[0]["step"] > CALL_STEP  # not their first 叫应
    # The county chief acknowledges the 叫应: nothing more for the grid head, ever.
    assert await apply_app_acks([AppAck(delivery_id=calls[0]["delivery_id"], at=lad.clock.now())], store) == 1
    n = len(called)
    for minute in (38, 45, 60):
        await sweep_at(lad, t0, minute)
    assert len(await calls_about(lad, head)) == n


async def test_a_rostered_cell_with_nobody_on_duty_falls_back_and_is_counted(
    store: Store, small_county: County
) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    town = lad.directory.cells[lad.village].parent
    assert town is not None
    d1 = staff(lad, town, Role.DISPATCHER)[0]
    # The township's only shift ended an hour ago: a gap.
    await store.replace_roster([Shift(town, Role.DISPATCHER, Post.A, d1, t0 - 9 * HOUR, t0 - HOUR)])
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)
    lad.clock.advance(6 * 60)
    counts = await lad.sweep()
    assert counts.duty_gaps == [town]
    assert REGISTRY.get_sample_value("warnengine_duty_gaps") == 1
    (call,) = await calls_about(lad, head)
    # The directory's grid head of the township, recorded as no post.
    assert call["target_id"] == staff(lad, town, Role.GRID_HEAD)[0] and call["post"] is None
    # A roster covering now again: no gap.
    await store.replace_roster([Shift(town, Role.DISPATCHER, Post.A, d1, t0, t0 + HOUR)])
    assert (await lad.sweep()).duty_gaps == []
    assert REGISTRY.get_sample_value("warnengine_duty_gaps") == 0


async def test_the_silent_persons_own_answer_stops_their_chain(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    t0 = lad.clock.now()
    await roster(lad)
    (head,) = staff(lad, lad.village, Role.GRID_HEAD)
    await sweep_at(lad, t0, 6)
    assert len(await calls_about(lad, head)) == 1
    mine = [d for d in await lad.deliveries() if d["person_id"] == head and d["step"] == 0]
    assert await apply_app_acks([AppAck(delivery_id=mine[0]["delivery_id"], at=lad.clock.now())], store)
    for minute in (12, 18, 30):
        await sweep_at(lad, t0, minute)
    assert len(await calls_about(lad, head)) == 1
