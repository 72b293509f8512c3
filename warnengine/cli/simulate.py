"""`warnengine simulate --scenario FILE [--county DIR] [--json] [--in-process]`; the scenario format is
documented in warnengine/sim/scenario.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_commands(sub: Any, settings: Any) -> None:
    sm = sub.add_parser("simulate", help="a warning's reach and escalation over a simulated county, fast")
    sm.add_argument("--scenario", type=Path, default=Path("config/scenarios/county_red.yaml"))
    sm.add_argument(
        "--county", dest="sim_county", type=Path, default=None, help="a directory, instead of the scenario's"
    )
    sm.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    sm.add_argument("--report", type=Path, default=None, help="also write the printable closure report here")
    sm.add_argument(
        "--in-process",
        action="store_true",
        help="call the stages' functions directly, not as Faust agents over Kafka (faster)",
    )
    sm.set_defaults(fn=lambda a: _simulate(a, settings(a)))


def _simulate(args: argparse.Namespace, s: Any) -> int:
    from warnengine.directory import DirectoryError, generate_county, read_county
    from warnengine.obs.log import configure

    configure("warning")  # the run's story is the summary; the stages' info lines would drown it
    from warnengine.plan.policy import DEFAULT, DisseminationPolicyError, load_policy
    from warnengine.sim.run import simulate
    from warnengine.sim.scenario import ScenarioError, load_scenario, unknown_codes

    try:
        sc = load_scenario(args.scenario)
        policy = load_policy(s.policy_file) if s.policy_file.exists() else DEFAULT
        source = args.sim_county or sc.county.dir
        if source is not None:
            county = read_county(source)
        else:
            g = sc.county.generate
            assert g is not None
            county = generate_county(
                seed=g.seed,
                townships=g.townships,
                villages=g.villages,
                households_per_group=g.households_per_group,
            )
        missing = unknown_codes(sc, (c.code for c in county.cells), (p.point_id for p in county.points))
        if missing:
            raise ScenarioError(f"warning.codes {missing}: no such cell or point in the county")
    except (ScenarioError, DisseminationPolicyError, DirectoryError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="warnengine-sim-") as tmp:
        try:
            if args.in_process:
                summary = asyncio.run(simulate(sc, county, Path(tmp) / "sim.db", policy, args.report))
                summary["pipeline"] = {"kafka": False}
            else:
                from warnengine.embedded.simulate import run_pipeline

                summary = run_pipeline(sc, county, s.policy_file, Path(tmp), args.report)
        except (TimeoutError, RuntimeError, LookupError) as e:  # the run itself failed: say what, no trace
            print(f"error: the simulation did not finish: {e}", file=sys.stderr)
            return 1
    page = summary.pop("report_html", None)
    if args.report and page:
        args.report.write_text(page, encoding="utf-8")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        keys = ("households", "reached", "reached_by_min", "vulnerable_reached_by_min", "staff_called_by_min")
        for k in keys:
            print(f"{k:>26}  {summary[k]}")
        print(f"{'unreached':>26}  {len(summary['unreached'])} (see --json)")
    return 0
