"""Step numbers (model/steps.py): every kind of person message owns a range of its own, so two kinds of
message to one person on one version never share a delivery id (one silently dropping the other)."""

from __future__ import annotations

import itertools

from sqlalchemy import update

from tests.escalate.test_evacuation import ordered
from tests.escalate.test_ladder import POLICY
from tests.escalate.test_upward import TZ, reports
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate import evacuate, fallback, first_doors, follow_up, inbox, rows, upward
from warnengine.escalate.upward import report_upward
from warnengine.model import Level, Role, steps
from warnengine.model.duty import Post, Shift


def test_the_ranges_do_not_overlap_and_every_constant_is_in_its_own() -> None:
    ordered_ranges = sorted(steps.RANGES, key=lambda r: r.start)
    assert all(r.start < r.end for r in ordered_ranges)
    for a, b in itertools.pairwise(ordered_ranges):
        assert a.end <= b.start, (a, b)
    assert len({r.kind for r in steps.RANGES}) == len(steps.RANGES)
    assert steps.LADDER.start == 0  # the ladder's own steps (0..n from the policy) are untouched
    mine = {
        rows.CALL_STEP: steps.CALL,
        fallback.step_numbers(0, 90)[0]: steps.FALLBACK,
        fallback.step_numbers(0, 90)[1]: steps.RESPONSIBLE,
        first_doors.HELPER_STEP: steps.HELPER,
        first_doors.POINT_STEP: steps.POINT,
        evacuate.EVAC_STEP: steps.EVACUATE,
        evacuate.EVAC_VISIT_STEP: steps.EVAC_VISIT,
        upward.CLOSURE_STEP: steps.CLOSURE,
        upward.REPORT_STEP: steps.REPORT,
        inbox.INBOX_STEP: steps.INBOX,
        follow_up.FOLLOW_STEP: steps.FOLLOW,
    }
    for number, kind in mine.items():
        assert steps.kind_of(number) == kind.kind, number
    assert len(mine) == len(set(mine))


def test_per_minute_steps_stay_in_their_range() -> None:
    # A follow-up at minute 2 and the third progress slot were both step 102 before the table.
    assert steps.FOLLOW.at(2) != steps.REPORT.at(2)
    for r in steps.RANGES:
        assert r.at(0) == r.start and r.at(-5) == r.start
        assert r.at(10**9) == r.end - 1  # clamped: never spills into the next kind's range
    assert steps.kind_of(95) == "unknown"


async def test_one_person_gets_both_the_evacuation_order_and_the_closure_report(
    store: Store, small_county: County
) -> None:
    """A county duty officer who lives in a threatened household: the evacuation order (version 1) and,
    when the warning expires, the closure report (also version 1) are two deliveries, not one."""
    lad, _ = await ordered(store, small_county)
    told = [d for d in await lad.deliveries() if d["step"] == evacuate.EVAC_STEP and d["channel"] == "sms"]
    assert told
    officer = str(told[0]["person_id"])
    county = next(c.code for c in lad.county.cells if c.level is Level.COUNTY)
    now = lad.clock.now()
    await store.replace_roster([Shift(county, Role.GRID_HEAD, Post.A, officer, now - 3600, now + 86400)])
    async with store.engine.begin() as conn:  # the warning expires: the closure report is on version 1
        await conn.execute(update(t.warnings).values(expires=now + 60))
    lad.clock.advance(120)
    sent = await report_upward(store, lad.directory, POLICY, lad.emit, TZ)
    assert f"{lad.w.warning_id}:{county}:closure:0" in sent
    mine = [d for d in await reports(lad) if d["person_id"] == officer and d["channel"] == "sms"]
    by_step = {int(d["step"]): d for d in mine}
    assert evacuate.EVAC_STEP in by_step and upward.CLOSURE_STEP in by_step
    assert "转移" in str(by_step[evacuate.EVAC_STEP]["text"])
    assert "闭环报告" in str(by_step[upward.CLOSURE_STEP]["text"])
    assert by_step[evacuate.EVAC_STEP]["version"] == by_step[upward.CLOSURE_STEP]["version"] == 1
