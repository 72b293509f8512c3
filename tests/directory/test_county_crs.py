"""A county whose point files are in GCJ-02 (Amap/Tencent) previews the same households per area as the
same county in WGS84, once imported with --crs gcj02; imported as WGS84 it is refused row by row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.plan.conftest import directory_of
from warnengine.directory import County, DirectoryError, ReadOptions, read_county, write_county
from warnengine.directory.parse.crs import wgs84_to_bd09, wgs84_to_gcj02
from warnengine.model import Area, Level
from warnengine.resolve.targets import resolve_areas

FORWARD = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def shifted(src: Path, out: Path, crs: str) -> None:
    """The files of `src` with every point file's lon/lat moved into `crs` (6 decimals, as a map gives)."""
    out.mkdir()
    for f in src.iterdir():
        if f.suffix != ".csv":
            (out / f.name).write_bytes(f.read_bytes())
            continue
        with open(f, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if "lon" in rows[0]:
            x, y = rows[0].index("lon"), rows[0].index("lat")
            for r in rows[1:]:
                lon, lat = FORWARD[crs](float(r[x]), float(r[y]))
                r[x], r[y] = f"{lon:.6f}", f"{lat:.6f}"
        with open(out / f.name, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)


def households_per_village_area(county: County) -> dict[str, set[str]]:
    """Preview each village's outline as a drawn area: the households it reaches, by coordinates."""
    directory = directory_of(county)
    out: dict[str, set[str]] = {}
    for cell in (c for c in county.cells if c.level is Level.VILLAGE):
        polygons = [cell.geometry["coordinates"]]
        if cell.geometry["type"] == "MultiPolygon":
            polygons = cell.geometry["coordinates"]
        area = Area(polygons=[[(x, y) for x, y in p[0]] for p in polygons])
        reach = resolve_areas(directory, [area])
        out[cell.code] = {
            directory.homes[v].ids[i] for v, idx in reach.households.items() if idx is not None for i in idx
        }
    return out


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_same_households_per_area_as_wgs84(small_county: County, tmp_path: Path, crs: str) -> None:
    write_county(small_county, tmp_path / "wgs84")
    shifted(tmp_path / "wgs84", tmp_path / crs, crs)
    wgs = read_county(tmp_path / "wgs84")
    converted = read_county(tmp_path / crs, ReadOptions(crs=crs))
    assert [h.cell_code for h in converted.households] == [h.cell_code for h in wgs.households]
    for a, b in zip(converted.households, wgs.households, strict=True):
        assert abs(a.lon - b.lon) < 1e-5 and abs(a.lat - b.lat) < 1e-5  # about a metre
    assert households_per_village_area(converted) == households_per_village_area(wgs)
    assert sum(map(len, households_per_village_area(wgs).values())) >= len(wgs.households)


def test_gcj02_taken_as_wgs84_is_refused_with_a_hint(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path / "wgs84")
    shifted(tmp_path / "wgs84", tmp_path / "gcj02", "gcj02")
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path / "gcj02")
    outside = [p for p in caught.value.problems if "is outside its cell" in p.message]
    assert outside and all("--crs gcj02" in p.message and p.column == "lon,lat" for p in outside)
    assert {p.file for p in outside} <= {"households.csv", "devices.csv", "points.csv", "orgs.csv"}
