"""Organisations in the simulation (issue 17): the generated county has a few per township, the warning
plans them, simulated principals answer like residents, and the `--json` summary counts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.sim.test_simulate import SMALL
from tests.sim.test_simulate import run as run_cli
from warnengine.directory import generate_county


def test_orgs_in_the_summary(tmp_path: Path) -> None:
    gen: dict[str, Any] = SMALL["county"]["generate"]  # type: ignore[index]
    low, high = gen["households_per_group"]
    county = generate_county(
        seed=gen["seed"],
        townships=gen["townships"],
        villages=gen["villages"],
        households_per_group=(low, high),
    )
    assert len(county.orgs) == 3 * gen["townships"]
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    done = run_cli("simulate", "--scenario", str(path), "--json", "--in-process")
    assert done.returncode == 0, done.stderr[-3000:]
    orgs = json.loads(done.stdout)["orgs"]
    assert orgs["targeted"] == len(county.orgs)
    assert orgs["reached"] + orgs["unreached"] == orgs["targeted"] and orgs["reached"] > 0
    assert orgs["headcount"] == sum(o.headcount for o in county.orgs) >= orgs["headcount_reached"] > 0
    by_min = list(orgs["reached_by_min"].values())
    assert by_min == sorted(by_min) and by_min[-1] <= orgs["reached"]
    assert sum(k["targeted"] for k in orgs["by_kind"].values()) == orgs["targeted"]
    # Each org not reached is named with the reason (its responsible persons silent, the step reached).
    assert len(orgs["not_reached"]) == orgs["unreached"]
    assert all(o["reason"] and o["org_id"] and o["headcount"] > 0 for o in orgs["not_reached"])
