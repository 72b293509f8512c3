"""grid.shp written by pyshp: read like grid.geojson; .prj checked; no .prj without --crs refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapefile

from warnengine.directory.parse.crs import wgs84_to_gcj02
from warnengine.directory.parse.shapefile import ShapefileError, shapefile_features

WGS84 = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
CGCS2000 = (
    'GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,'
    '298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
)
UTM = 'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]]'
SQUARE = [[114.5, 35.5], [114.5, 35.6], [114.6, 35.6], [114.6, 35.5], [114.5, 35.5]]  # clockwise: outer


def write(path: Path, prj: str | None, ring: list[list[float]] = SQUARE, encoding: str = "utf-8") -> Path:
    # The files are opened here and closed by us: pyshp's Writer leaves a path-opened .dbf to the GC.
    with (
        open(path, "wb") as shp,
        open(path.with_suffix(".shx"), "wb") as shx,
        open(path.with_suffix(".dbf"), "wb") as dbf,
    ):
        w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding=encoding)
        w.field("CODE", "C", 15)
        w.field("LEVEL", "C", 10)
        w.field("PARENT", "C", 15)
        w.field("NAME", "C", 50)
        w.poly([ring])
        w.record("410526000000", "county", "", "示范县")
        w.close()
    if prj is not None:
        path.with_suffix(".prj").write_text(prj, encoding="ascii")
    return path


@pytest.mark.parametrize("prj", [WGS84, CGCS2000])
def test_read_as_geojson_features(tmp_path: Path, prj: str) -> None:
    [(line, feature)] = shapefile_features(write(tmp_path / "grid.shp", prj), None, None)
    assert line == 1
    assert feature["properties"] == {
        "code": "410526000000",
        "level": "county",
        "parent": None,
        "name": "示范县",
    }
    assert feature["geometry"]["type"] == "Polygon"
    assert sorted(map(tuple, feature["geometry"]["coordinates"][0])) == sorted(map(tuple, SQUARE))


def test_gbk_dbf_with_cpg(tmp_path: Path) -> None:
    path = write(tmp_path / "grid.shp", WGS84, encoding="gbk")
    path.with_suffix(".cpg").write_text("GBK", encoding="ascii")
    [(_, feature)] = shapefile_features(path, None, None)
    assert feature["properties"]["name"] == "示范县"


def test_projected_prj_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ShapefileError, match="is not WGS84 or CGCS2000 longitude/latitude"):
        shapefile_features(write(tmp_path / "grid.shp", UTM), None, None)


def test_no_prj_needs_crs(tmp_path: Path) -> None:
    path = write(tmp_path / "grid.shp", None)
    with pytest.raises(ShapefileError, match=r"grid\.prj is missing"):
        shapefile_features(path, None, None)
    assert shapefile_features(path, "cgcs2000", None)[0][1]["geometry"]["coordinates"][0][0] == SQUARE[0]


def test_no_prj_in_gcj02_is_converted(tmp_path: Path) -> None:
    shifted = [list(wgs84_to_gcj02(x, y)) for x, y in SQUARE]
    [(_, feature)] = shapefile_features(write(tmp_path / "grid.shp", None, shifted), "gcj02", None)
    for (x, y), (ex, ey) in zip(feature["geometry"]["coordinates"][0], SQUARE, strict=True):
        assert abs(x - ex) < 1e-6 and abs(y - ey) < 1e-6
