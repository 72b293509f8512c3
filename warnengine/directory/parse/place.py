"""Where a row's point is: its coordinates read in the file's CRS (`--crs`) and converted to WGS84, and
checked to lie in the row's own cell, the usual sign of coordinates given in the wrong system."""

from __future__ import annotations

import shapely
from shapely.geometry import shape

from warnengine.directory.parse.crs import to_wgs84
from warnengine.directory.parse.fields import Problem, read_coord
from warnengine.model import Cell

# A point may sit this far outside its cell's polygon: coordinates are rounded to 6 decimals on export,
# and a GCJ-02/BD-09 inverse is good to ~1e-7 degrees.
SLACK_DEG = 2e-6
_HINT = {
    "wgs84": " — 坐标系不对？高德/腾讯坐标请用 --crs gcj02，百度坐标请用 --crs bd09 / "
    "wrong coordinate system? Amap/Tencent coordinates: --crs gcj02, Baidu: --crs bd09",
    "cgcs2000": " — 坐标系不对？试试 --crs gcj02 或 --crs bd09 / "
    "wrong coordinate system? try --crs gcj02 or bd09",
}


class Place:
    def __init__(self, cells: dict[str, Cell], crs: str) -> None:
        self.cells = cells
        self.crs = crs
        self._shapes: dict[str, shapely.Geometry] = {}

    def coord(
        self, lon: str, lat: str, name: str, line: int, problems: list[Problem]
    ) -> tuple[float, float, bool]:
        """(lon, lat) in WGS84, and whether both were good numbers in range."""
        here = len(problems)
        x, y = read_coord(lon, lat, name, line, problems)
        if len(problems) > here:
            return x, y, False
        if self.crs not in ("wgs84", "cgcs2000"):
            x, y = (round(v, 7) for v in to_wgs84(self.crs, x, y))
        return x, y, True

    def inside(self, code: str, x: float, y: float, name: str, line: int, problems: list[Problem]) -> None:
        """Report the point if it is not in cell `code` (unknown cells are reported elsewhere)."""
        cell = self.cells.get(code)
        if cell is None:
            return
        geom = self._shapes.get(code)
        if geom is None:
            geom = self._shapes[code] = shapely.make_valid(shape(cell.geometry))
            shapely.prepare(geom)
        if shapely.contains_xy(geom, x, y) or geom.dwithin(shapely.Point(x, y), SLACK_DEG):
            return
        hint = _HINT.get(self.crs, f" — 检查 --crs {self.crs} / check --crs {self.crs}")
        problems.append(
            Problem(
                name,
                line,
                f"点 ({x}, {y}) 不在所属网格 {code} 内 / point ({x}, {y}) is outside its cell {code}{hint}",
                "lon,lat",
                f"{x},{y}",
            )
        )
