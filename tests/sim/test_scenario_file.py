"""The scenario file: unknown keys and impossible shares are refused with the field named; the embedded
default's population (config/scenarios/embedded.yaml) loads, and its fates do not depend on who reads
the people in which order (each worker and the visitors build the same population)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.plan.conftest import directory_of
from warnengine.clock import ManualClock
from warnengine.directory import County
from warnengine.sim.scenario import ScenarioError, load_scenario
from warnengine.sim.world import World

BASE = {"county": {"dir": "config/county"}}


@pytest.mark.parametrize(
    ("extra", "named", "says"),
    [
        ({"never_replyy": 0.3}, "never_replyy", "Extra inputs are not permitted"),
        ({"visit_outcomes": {"reached": 0.97, "nobody_home": 0.3}}, "visit_outcomes", "add up to 1.27"),
        ({"revisit_outcomes": {"reached": 1.2, "moved": -0.2}}, "revisit_outcomes", "cannot be negative"),
        ({"visit_outcomes": {"reached": 0.5, "lost": 0.5}}, "visit_outcomes.lost", "reached"),
        ({"never_reply": 1.5}, "never_reply", "less than or equal to 1"),
        ({"reply_delay_min": [5, 1]}, "reply_delay_min", "0 <= low <= high"),
        ({"goal": {"households_min": 60, "vulnerable": 30}}, "goal.vulnerable", "Extra inputs"),
    ],
)
def test_bad_scenario_names_the_field(
    tmp_path: Path, extra: dict[str, object], named: str, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert named in str(e.value) and says in str(e.value) and str(path) in str(e.value)


def test_embedded_population_is_the_same_whoever_builds_it(small_county: County) -> None:
    sc = load_scenario(Path("config/scenarios/embedded.yaml"))
    directory = directory_of(small_county)
    one = World.live(sc, directory, ManualClock())
    reordered = directory_of(
        County(small_county.cells, small_county.households, small_county.people[::-1], [])
    )
    two = World.live(sc, reordered, ManualClock())
    assert one.delay == two.delay and one.invalid == two.invalid
    assert len(one.delay) == len(small_county.people) and not one.offline
    silent = sum(1 for d in one.delay.values() if d is None)
    assert 0 < silent < len(one.delay)
