"""The simulator's `household_replies`: residents who answer "全家" account for their household's members
without a phone, so households close without a visit (model/household_reply.py)."""

from __future__ import annotations

from pathlib import Path

from tests.sim.test_duty_knobs import PHONE
from warnengine.directory import County
from warnengine.plan.policy import load_policy
from warnengine.sim.run import simulate
from warnengine.sim.scenario import Scenario


def nobody_visits(household_replies: float) -> Scenario:
    return Scenario.model_validate(
        {
            "county": {"dir": "unused"},
            "minutes": 20,
            "step_s": 20,
            "visits_per_hour": 0.01,  # every household closed here was closed by an answer
            "household_replies": household_replies,
        }
    )


async def test_whole_household_answers_close_households_without_a_visit(
    tmp_path: Path, small_county: County
) -> None:
    own = await simulate(nobody_visits(0.0), small_county, tmp_path / "own.db", PHONE)
    whole = await simulate(nobody_visits(1.0), small_county, tmp_path / "whole.db", PHONE)
    # The same people answer either way; only what their answer counts differs.
    assert own["persons"]["acknowledged"] == whole["persons"]["acknowledged"] > 0
    # Own answers leave the members without a phone unaccounted for: households stay open.
    assert own["persons"]["accounted"] == own["persons"]["acknowledged"] < own["persons"]["total"]
    assert whole["persons"]["accounted"] > own["persons"]["accounted"]
    assert whole["reached"] > own["reached"]
    # A household whose every phone holder answered "全家" is reached; those without any phone are not.
    phoneless = {
        h.household_id
        for h in small_county.households
        if not any(p.phone for p in small_county.people if p.household_id == h.household_id)
    }
    assert whole["reached"] <= whole["households"] - len(phoneless)


async def test_partly_home_doors_are_counted_and_revisited(tmp_path: Path, small_county: County) -> None:
    def walking(partly_home: float) -> Scenario:
        return Scenario.model_validate(
            {
                "county": {"dir": "unused"},
                "minutes": 90,
                "step_s": 30,
                "never_reply": 1.0,  # nobody answers: every household gets a visit
                "staff_never_reply": 0.0,
                "visits_per_hour": 120,
                "partly_home": partly_home,
                "revisit_outcomes": {"reached": 1.0},
            }
        )

    policy = load_policy(Path("config/policy.yaml"))  # red: visits at minute 10
    whole = await simulate(walking(0.0), small_county, tmp_path / "whole.db", policy)
    partly = await simulate(walking(1.0), small_county, tmp_path / "partly.db", policy)
    # Every door found home with everyone in it: no revisit. Found partly home: those present counted, the
    # rest revisited (the rule's revisit_min, 30) and every household closed only then.
    assert whole["revisits"] == 0 and partly["revisits"] > 0
    at_30, at_end = (partly["persons"]["accounted_by_min"][m] for m in ("30", "120"))
    assert at_30 < whole["persons"]["accounted_by_min"]["30"]
    assert at_30 < at_end == whole["persons"]["accounted_by_min"]["120"] == whole["persons"]["total"]
