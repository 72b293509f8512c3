"""Geohazard monitoring points (地质灾害隐患点) for the synthetic county: one per point lead, on a slope
above a hamlet, threatening the households nearest to it."""

from __future__ import annotations

import math
import random

import numpy as np
import shapely

from warnengine.directory.geometry import Cellular, Frame
from warnengine.model import Household, MonitoringPoint, Person, Role

_KINDS = ("landslide", "landslide", "debris_flow", "collapse")  # 滑坡 is the commonest
_NAMES = {"landslide": "滑坡", "debris_flow": "泥石流", "collapse": "崩塌"}
_THREATENED = (3, 12)  # households per point


def monitoring_points(
    rng: random.Random,
    frame: Frame,
    people: list[Person],
    households: list[Household],
    lonlat: dict[str, Cellular],
) -> list[MonitoringPoint]:
    homes_of: dict[str, list[Household]] = {}
    for h in households:
        homes_of.setdefault(h.cell_code[:12], []).append(h)
    points: list[MonitoringPoint] = []
    for lead in (p for p in people if p.role is Role.POINT_LEAD):
        homes = homes_of.get(lead.cell_code)
        if not homes:
            continue
        village = lonlat[lead.cell_code]
        anchor = rng.choice(homes)
        x, y = _slope_above(rng, frame, anchor, village)
        xy = np.array([[h.lon, h.lat] for h in homes]) * frame.km_per_deg
        dist = np.hypot(*(xy - np.array([x, y]) * frame.km_per_deg).T)
        count = min(len(homes), rng.randint(*_THREATENED))
        nearest = sorted(homes[int(i)].household_id for i in np.argsort(dist, kind="stable")[:count])
        kind = rng.choice(_KINDS)
        number = len(points) + 1
        points.append(
            MonitoringPoint(
                point_id=f"gp{number:04d}",
                cell_code=lead.cell_code,
                name=f"{_NAMES[kind]}隐患点{number}号",
                lon=x,
                lat=y,
                kind=kind,
                lead_person_id=lead.person_id,
                households=tuple(nearest),
            )
        )
    return points


def _slope_above(
    rng: random.Random, frame: Frame, anchor: Household, village: Cellular
) -> tuple[float, float]:
    """A spot 100-300 m from `anchor`, inside the village (the anchor itself if none is found)."""
    for _ in range(20):
        km, bearing = rng.uniform(0.1, 0.3), rng.uniform(0, 2 * math.pi)
        dx, dy = np.array([math.cos(bearing), math.sin(bearing)]) * km / frame.km_per_deg
        x, y = round(anchor.lon + float(dx), 6), round(anchor.lat + float(dy), 6)
        if village.contains(shapely.Point(x, y)):
            return x, y
    return anchor.lon, anchor.lat
