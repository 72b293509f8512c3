"""grid.shp (with .dbf, .shx, .prj): cell boundaries as the natural-resources bureau hands them over.

Read with pyshp into the same features grid.geojson has. Attributes `code`, `level`, `parent`, `name`,
matched without case, or their aliases below (DBF names have at most 10 characters). The `.prj` must be
geographic WGS84 or CGCS2000 (longitude/latitude in degrees); a projected system is refused. Without a
`.prj` the coordinates are taken in `--crs` if one is given, else refused. The DBF's encoding comes
from its `.cpg`, else `--encoding`, else UTF-8 then GB18030.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warnengine.directory.parse.columns import normalise
from warnengine.directory.parse.crs import to_wgs84

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "code": ("code", "区划代码", "编码", "代码", "xzqdm", "dm"),
    "level": ("level", "级别", "层级"),
    "parent": ("parent", "上级编码", "上级代码", "sjdm"),
    "name": ("name", "名称", "xzqmc", "mc"),
}
_GEOGRAPHIC = (
    "wgs_1984",
    "wgs84",
    "wgs 84",
    "china_2000",
    "cgcs2000",
    "china geodetic coordinate system 2000",
)


class ShapefileError(ValueError):
    pass


def shapefile_features(path: Path, crs: str | None, encoding: str | None) -> list[tuple[int, Any]]:
    """(record number, GeoJSON feature) of each shape; raises ShapefileError for an unusable file."""
    import shapefile  # pyshp

    to = _crs_of(path, crs)
    cpg = path.with_suffix(".cpg")
    if cpg.is_file():
        # pyshp reads the .cpg too, and warns unless it is given the same name
        encoding = cpg.read_text(encoding="ascii", errors="replace").strip() or encoding
    for attempt in [encoding] if encoding else ["utf-8", "gb18030"]:
        try:
            with shapefile.Reader(str(path), encoding=attempt) as reader:
                names = _attribute_names([f[0] for f in reader.fields[1:]])
                return [
                    (i, _feature(sr.shape.__geo_interface__, sr.record.as_dict(), names, to))
                    for i, sr in enumerate(reader.iterShapeRecords(), 1)
                ]
        except UnicodeDecodeError:
            continue
        except shapefile.ShapefileException as e:
            raise ShapefileError(f"无法读取 shapefile / cannot read the shapefile: {e}") from e
    raise ShapefileError(
        "无法识别 .dbf 的编码，请用 --encoding 指定 / cannot decode the .dbf: give --encoding"
    )


def _crs_of(path: Path, crs: str | None) -> str:
    prj = path.with_suffix(".prj")
    if not prj.is_file():
        if crs is None:
            raise ShapefileError(
                f"缺少 {prj.name}，不知道坐标系：请补上 .prj 或用 --crs 指定 / "
                f"{prj.name} is missing, so the coordinate system is unknown: add it or give --crs"
            )
        return crs
    wkt = prj.read_text(encoding="utf-8", errors="replace").strip()
    head = wkt.split("[", 1)[0].strip().upper()
    if head not in ("GEOGCS", "GEOGCRS") or not any(g in wkt.lower() for g in _GEOGRAPHIC):
        name = wkt.split('"')[1] if '"' in wkt else wkt[:40]
        raise ShapefileError(
            f"{prj.name} 的坐标系 {name} 不是 WGS84/CGCS2000 经纬度，请先转换 / "
            f"{prj.name}: {name} is not WGS84 or CGCS2000 longitude/latitude; reproject the file first"
        )
    return "wgs84"


def _attribute_names(fields: list[str]) -> dict[str, str]:
    """Our attribute → the DBF field holding it."""
    by_text = {normalise(f): f for f in fields}
    out: dict[str, str] = {}
    for ours, aliases in ATTRIBUTES.items():
        for alias in aliases:
            if normalise(alias) in by_text:
                out[ours] = by_text[normalise(alias)]
                break
    return out


def _feature(geometry: Any, record: dict[str, Any], names: dict[str, str], crs: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for ours in ATTRIBUTES:
        value = record.get(names[ours]) if ours in names else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip() if value is not None else ""
        props[ours] = text or None
    if props["parent"] in ("0", None):
        props["parent"] = None
    return {"type": "Feature", "properties": props, "geometry": _lists(geometry, crs)}


def _lists(geometry: Any, crs: str) -> Any:
    """The geometry with plain lists (as json gives), converted to WGS84 when `crs` says so."""

    def walk(c: Any) -> Any:
        if c and isinstance(c[0], (int, float)):
            x, y = to_wgs84(crs, float(c[0]), float(c[1]))
            return [round(x, 7), round(y, 7)] if crs not in ("wgs84", "cgcs2000") else [x, y]
        return [walk(p) for p in c]

    if not isinstance(geometry, dict) or "coordinates" not in geometry:
        return geometry
    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}
