"""zones.geojson, threatened zones (issue 17): the households inside each polygon are worked out when the
directory is read; bad features are reported by line; the zones round-trip through write_county; a red
flood warning orders the zone's households out with the points' (the record, SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.escalate.test_ladder import start
from warnengine.db.store import Store
from warnengine.directory import County, check_county, read_county, write_county
from warnengine.model.evacuation import Zone


def square(x: float, y: float, r: float) -> dict[str, object]:
    ring = [[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r], [x - r, y - r]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_zones_hold_the_households_inside(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    home = small_county.households[0]
    features = [
        {
            "type": "Feature",
            "properties": {"区域编号": "Z1", "名称": "河滩低洼区", "类型": "flood_prone"},
            "geometry": square(home.lon, home.lat, 1e-5),
        },
        {"type": "Feature", "properties": {"zone_id": "Z1"}, "geometry": square(0, 0, 1)},  # duplicate
        {
            "type": "Feature",
            "properties": {"zone_id": "Z2"},
            "geometry": {"type": "Point", "coordinates": [0, 0]},
        },
    ]
    text = (
        '{"type":"FeatureCollection","features":[\n' + ",\n".join(json.dumps(f) for f in features) + "\n]}\n"
    )
    (tmp_path / "zones.geojson").write_text(text, encoding="utf-8")
    county, problems = check_county(tmp_path)
    (zone,) = county.zones
    assert (zone.zone_id, zone.name, zone.kind) == ("Z1", "河滩低洼区", "flood_prone")
    assert home.household_id in zone.households and len(zone.households) < len(small_county.households)
    mine = sorted((p.line, p.column) for p in problems if p.file == "zones.geojson")
    assert mine == [(3, "zone_id"), (4, "geometry")]


def test_zones_round_trip(small_county: County, tmp_path: Path) -> None:
    home = small_county.households[0]
    zone = Zone(zone_id="Z1", name="低洼区", kind="flood_prone", geometry=square(home.lon, home.lat, 1e-5))
    write_county(dataclasses.replace(small_county, zones=[zone]), tmp_path)
    (back,) = read_county(tmp_path).zones
    assert back.zone_id == "Z1" and home.household_id in back.households
    write_county(small_county, tmp_path)
    assert not (tmp_path / "zones.geojson").exists()


async def test_a_zone_household_is_ordered_out(store: Store, small_county: County) -> None:
    village = next(x.code for x in small_county.cells if x.level.value == "village")
    home = next(h for h in small_county.households if h.cell_code.startswith(village))
    zone = Zone(
        zone_id="Z1",
        name="低洼区",
        kind="flood_prone",
        geometry=square(home.lon, home.lat, 1e-5),
        households=(home.household_id,),
    )
    lad = await start(store, small_county)
    await store.import_directory([], [], [], [], zones=[zone])
    lad.clock.advance(60)
    await lad.sweep()
    ordered = [r["household_id"] for r in await store.evacuation_households(lad.w.warning_id)]
    assert ordered == [home.household_id]  # the village has no monitoring point: the zone alone
