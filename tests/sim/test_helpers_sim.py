"""The simulator's vulnerable register (issue 17): a generated county gets each vulnerable household's
group leader as its helper; for a red warning (the policy's helper_first) the helpers go at once and the
summary counts the doors their own helper visited."""

from __future__ import annotations

from pathlib import Path

from tests.sim.test_simulate import simulate


def test_helpers_visit_their_doors(tmp_path: Path) -> None:
    out = simulate(tmp_path, "--in-process")
    helpers = out["helpers"]
    assert helpers["households"] > 0
    # A fifth of the staff never answer (and never walk): most helpers still visit their doors.
    assert 0.5 * helpers["households"] <= helpers["visited_by_helper"] <= helpers["households"]
