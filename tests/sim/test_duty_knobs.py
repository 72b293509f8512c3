"""Simulator knobs of issue 16, in process on a small county: staff who answer a phone call but never a
text, and night hours (people asleep: texts unread, a call wakes them). The summary counts calls by
outcome and 叫应 placed and answered by minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warnengine.directory import County
from warnengine.model import Channel, Role, Severity
from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
from warnengine.sim.run import simulate
from warnengine.sim.scenario import Scenario

# Red: staff and residents texted; 叫应 by phone (three calls in five minutes, then the next post).
PHONE = DisseminationPolicy(
    rules=(
        Rule(
            name="red-phone",
            hazards=("any",),
            severities=(Severity.RED,),
            residents=Residents.ALL,
            staff_roles=(Role.GRID_HEAD, Role.DISPATCHER, Role.GRID_MEMBER, Role.GROUP_LEADER),
            channels=(Channel.SMS,),
            staff_ack_min=5,
            duty_voice_calls=3,
            duty_call_window_min=5,
        ),
    )
)


def scenario(**knobs: Any) -> Scenario:
    return Scenario.model_validate(
        {"county": {"dir": "unused"}, "minutes": 40, "step_s": 20, "never_reply": 0.5, **knobs}
    )


async def test_staff_who_answer_only_calls_are_reached_by_the_phone_ladder(
    tmp_path: Path, small_county: County
) -> None:
    out = await simulate(scenario(staff_calls_only=1.0), small_county, tmp_path / "a.db", PHONE)
    calls = out["calls_by_outcome"]
    assert calls.get("pressed_1", 0) > 0  # the texts went unread; the calls were answered with 1
    assert out["staff_acknowledged_by_min"]["5"] == 0  # nobody answered their first text
    called, answered = out["jiaoying_by_min"]["called"], out["jiaoying_by_min"]["answered"]
    # The first 叫应 go out when the texts have been silent five minutes; answered on the phone soon after.
    assert 0 < called["5"] <= called["15"] and answered["5"] == 0 < answered["15"] <= answered["30"]
    # Upward reports went to the townships and the county at 10 and 30 minutes (the run ends at 40).
    assert set(out["upward_reports"]) == {"10", "30"} and out["upward_reports"]["10"] > 1


async def test_at_night_silent_staff_calls_ring_out_and_go_up(tmp_path: Path, small_county: County) -> None:
    quiet = scenario(staff_never_reply=1.0, night_asleep=1.0)
    out = await simulate(quiet, small_county, tmp_path / "b.db", PHONE)
    calls = out["calls_by_outcome"]
    assert calls.get("no_answer", 0) > 0 and "pressed_1" not in calls
    assert out["jiaoying_by_min"]["answered"]["30"] == 0
    # Three tries per post, then the next: more 叫应 placed at 30 min than at 15.
    assert out["jiaoying_by_min"]["called"]["30"] > out["jiaoying_by_min"]["called"]["15"] > 0
    assert out["reached"] < out["households"]  # asleep: no resident read a text
