"""zones.geojson (optional): threatened zones (低洼易涝区, river crossings, below a reservoir…), polygons in
WGS84 with `zone_id`, `name` and `kind` properties (Chinese keys too). The households inside a zone are
worked out here, once, when the directory is read; every bad feature is reported with its line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from warnengine.directory.parse.fields import Problem
from warnengine.directory.parse.grid import _features_with_lines, _valid_geometry
from warnengine.model import Household
from warnengine.model.evacuation import Zone

ZONES_FILE = "zones.geojson"
_KEYS = {
    "zone_id": ("zone_id", "区域编号", "编号"),
    "name": ("name", "名称", "区域名称"),
    "kind": ("kind", "类型"),
}


def _prop(props: dict[str, Any], field: str) -> str:
    for key in _KEYS[field]:
        value = props.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def read_zones(directory: Path, households: list[Household], problems: list[Problem]) -> list[Zone]:
    path = directory / ZONES_FILE
    if not path.is_file():
        return []
    try:
        features = _features_with_lines(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(Problem(ZONES_FILE, getattr(exc, "lineno", 0), f"cannot read zones: {exc}"))
        return []
    xs = np.array([h.lon for h in households], dtype=float)
    ys = np.array([h.lat for h in households], dtype=float)
    ids = [h.household_id for h in households]
    out: list[Zone] = []
    seen: set[str] = set()
    for line, feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        zid, here = _prop(props, "zone_id"), len(problems)
        if not zid:
            problems.append(Problem(ZONES_FILE, line, "缺少 / missing zone_id", "zone_id"))
        elif zid in seen:
            problems.append(
                Problem(ZONES_FILE, line, f"重复的编号 / duplicate zone_id {zid}", "zone_id", zid)
            )
        seen.add(zid)
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not _valid_geometry(geometry):
            problems.append(
                Problem(
                    ZONES_FILE,
                    line,
                    "不是多边形 / geometry is not a valid Polygon or MultiPolygon",
                    "geometry",
                )
            )
        if len(problems) > here:
            continue
        assert isinstance(geometry, dict)
        geom = shapely.make_valid(shape(geometry))
        inside = shapely.contains_xy(geom, xs, ys) if len(ids) else np.zeros(0, dtype=bool)
        homes = tuple(ids[i] for i in np.flatnonzero(inside))
        out.append(
            Zone(
                zone_id=zid,
                name=_prop(props, "name") or zid,
                kind=_prop(props, "kind") or "zone",
                geometry=geometry,
                households=homes,
            )
        )
    return out


def write_zones(zones: list[Zone], directory: Path) -> None:
    """zones.geojson, one feature per line (none: no file)."""
    path = directory / ZONES_FILE
    if not zones:
        path.unlink(missing_ok=True)
        return
    features = [
        {
            "type": "Feature",
            "properties": {"zone_id": z.zone_id, "name": z.name, "kind": z.kind},
            "geometry": z.geometry,
        }
        for z in zones
    ]
    with open(path, "w", encoding="utf-8") as f:  # one feature per line, as grid.geojson
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) for x in features))
        f.write("\n]}\n")
