"""From a real feed message to whom the plan reaches: the geohazard point alarm (issue 3 meets issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.plan.conftest import directory_of
from warnengine.directory import County
from warnengine.normalise import parse_feed
from warnengine.plan.plan import plan_warning
from warnengine.plan.policy import load_policy
from warnengine.resolve.targets import resolve_areas

POLICY = load_policy(Path(__file__).resolve().parents[2] / "config" / "policy.yaml")


def test_point_alarm_reaches_the_threatened_households_and_the_point_lead(small_county: County) -> None:
    point = small_county.points[0]
    raw = json.dumps(
        {
            "kind": "geohazard_point_alarm",
            "point_id": point.point_id,
            "sensor": "GNSS-01 位移",
            "value": 42.0,
            "threshold": 30.0,
            "unit": "mm",
            "lon": point.lon,
            "lat": point.lat,
            "alarm_level": "警戒",
            "observed_at": "2026-07-01T03:00:00+08:00",
        }
    ).encode()
    w = parse_feed(raw, "geohazard")
    directory = directory_of(small_county)
    reach = resolve_areas(directory, w.areas)
    plans = list(plan_warning(w, reach, directory, POLICY.rule_for(w.hazard, w.severity, w.event)))
    assert {h for p in plans for h, _, _ in p.households} == set(point.households)
    assert point.lead_person_id in {d[3] for p in plans for d in p.deliveries}
    reached = {d[3] for p in plans for d in p.deliveries}
    with_phone = {m.person_id for h in point.households for m in directory.members.get(h, []) if m.phone}
    assert with_phone and with_phone <= reached  # orange (警戒): every resident, by SMS and the app
