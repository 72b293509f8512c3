"""`warnengine grid import|export DIR` and `warnengine preview`: the county directory and reach preview."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from warnengine.directory.parse.crs import CRS_CHOICES
from warnengine.model import Area, Circle, Hazard, Severity, Status
from warnengine.settings import Settings


def add_commands(sub: Any, settings: Any) -> None:
    """Register the subcommands; `settings(args)` gives the Settings for a parsed command line."""
    grid = sub.add_parser("grid", help="county directory")
    gsub = grid.add_subparsers(dest="grid_command", required=True)
    gi = gsub.add_parser(
        "import",
        help="load or update a directory (grid.geojson or .shp; tables as .csv or .xlsx); checks it first",
    )
    gi.add_argument("dir", type=Path)
    gi.add_argument("--encoding", help="CSV (and .dbf) encoding, e.g. gb18030 (default: detected)")
    gi.add_argument("--sheet", help="the xlsx sheet to read (default: the first)")
    gi.add_argument(
        "--crs",
        choices=CRS_CHOICES,
        default=None,
        help="coordinate system of the point files (and of a grid.shp without .prj); default wgs84",
    )
    gi.add_argument(
        "--skip-bad-rows", action="store_true", help="import the good rows; bad ones are listed and audited"
    )
    gi.add_argument(
        "--errors", type=Path, help="where to write the list of problems (default: DIR/import-errors)"
    )
    gi.add_argument("--errors-xlsx", action="store_true", help="write the list of problems as .xlsx")
    gi.set_defaults(fn=lambda a: asyncio.run(_import(a, settings(a))))
    ge = gsub.add_parser("export", help="write the directory in the database to DIR (same files)")
    ge.add_argument("dir", type=Path)
    ge.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="tables as .csv or .xlsx")
    ge.set_defaults(fn=lambda a: asyncio.run(_export(a.dir, settings(a), a.format)))
    ga = gsub.add_parser(
        "acl",
        help="Mosquitto ACL stanzas: each terminal may read its cells' group topics (终端组播主题读权限)",
    )
    ga.set_defaults(fn=lambda a: asyncio.run(_acl(settings(a))))

    pv = sub.add_parser("preview", help="who and what an area would reach, by the dissemination policy")
    where = pv.add_mutually_exclusive_group(required=True)
    where.add_argument("--geojson", type=Path, help="a GeoJSON Polygon/MultiPolygon, Feature or collection")
    where.add_argument("--circle", help="LAT,LON,KM")
    where.add_argument("--codes", help="administrative codes at any level, or point:<id>, comma-separated")
    pv.add_argument("--hazard", choices=[h.value for h in Hazard], default=None)
    pv.add_argument("--severity", choices=[s.value for s in Severity], default=None)
    pv.add_argument("--status", choices=[s.value for s in Status], default=None, help="Exercise: a drill")
    pv.add_argument("--json", action="store_true", help="one JSON object (else a short table)")
    pv.set_defaults(fn=lambda a: asyncio.run(_preview(a, settings(a))))


class AreaError(ValueError):
    pass


def area_from_args(geojson: Path | None, circle: str | None, codes: str | None) -> Area:
    if circle is not None:
        try:
            lat, lon, km = (float(x) for x in circle.split(","))
            return Area(circles=[Circle(lat=lat, lon=lon, radius_km=km)])
        except ValueError as e:  # pydantic's ValidationError is a ValueError too
            raise AreaError(f"--circle wants LAT,LON,KM with lat ±90, lon ±180, km >= 0: {e}") from e
    if codes is not None:
        return Area(codes=[c.strip() for c in codes.split(",") if c.strip()])
    assert geojson is not None
    try:
        doc = json.loads(geojson.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AreaError(f"cannot read {geojson}: {e}") from e
    return Area(polygons=geojson_rings(doc))


def geojson_rings(doc: Any) -> list[list[tuple[float, float]]]:
    """Outer rings of every polygon in a GeoJSON object. An area in CAP has no holes, so holes are refused
    rather than silently filled."""
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        return [r for f in doc.get("features") or [] for r in geojson_rings(f)]
    if kind == "Feature":
        return geojson_rings(doc.get("geometry"))
    if kind == "Polygon":
        polygons = [doc.get("coordinates")]
    elif kind == "MultiPolygon":
        polygons = doc.get("coordinates") or []
    else:
        raise AreaError(f"GeoJSON {kind!r}: expected a Polygon, MultiPolygon, Feature or FeatureCollection")
    rings = []
    for rings_of in polygons:
        if not isinstance(rings_of, list) or not rings_of:
            raise AreaError("a GeoJSON polygon without coordinates")
        if len(rings_of) > 1:
            raise AreaError("the area has holes; a warning area (CAP) cannot: split it into polygons")
        try:
            rings.append([(float(p[0]), float(p[1])) for p in rings_of[0]])
        except (TypeError, ValueError, IndexError) as e:
            raise AreaError(f"bad GeoJSON position: {e}") from e
    return rings


async def _import(args: argparse.Namespace, s: Settings) -> int:
    store = await _store(s)
    try:
        return await _import_into(store, args, s)
    finally:
        await store.close()


async def _import_into(store: Any, args: argparse.Namespace, s: Settings) -> int:
    from warnengine.directory import ReadOptions
    from warnengine.directory.errors import summary, write_errors
    from warnengine.directory.importer import change_lines, import_folder

    options = ReadOptions(
        encoding=args.encoding,
        sheet=args.sheet,
        crs=args.crs or "wgs84",
        crs_given=args.crs is not None,
        phone_region=s.phone_region,
        time_zone=s.time_zone,
    )

    def progress(name: str) -> None:
        print(f"读取 / reading {name} …", file=sys.stderr, flush=True)

    result = await import_folder(
        store, args.dir, options, skip_bad_rows=args.skip_bad_rows, progress=progress
    )
    if result.problems:
        errors = args.errors or args.dir / ("import-errors.xlsx" if args.errors_xlsx else "import-errors.csv")
        if args.errors_xlsx and errors.suffix != ".xlsx":
            errors = errors.with_suffix(".xlsx")
        try:
            write_errors(result.problems, errors)
            where = f"完整列表 / full list: {errors}"
        except OSError as e:
            where = f"无法写入问题列表 / cannot write the list of problems to {errors}: {e}"
        for line in summary(result.problems):
            print(line, file=sys.stderr)
        print(where, file=sys.stderr)
    if not result.imported:
        n = len(result.problems)
        print(f"{n} problem(s); nothing imported / 有 {n} 个问题，未导入任何数据", file=sys.stderr)
        return 2
    if result.problems:
        print(f"跳过 / skipped {len(result.problems)} row(s) (--skip-bad-rows)", file=sys.stderr)
    for line in change_lines(result):
        print(line, file=sys.stderr)
    print(json.dumps(result.summary()))
    return 0


async def _export(directory: Path, s: Settings, fmt: str = "csv") -> int:
    from warnengine.directory import County, write_county
    from warnengine.directory.export import TABLES, write_county_xlsx

    store = await _store(s)
    try:
        # Orgs and the register too: `grid export` writes everything `grid import` reads back.
        county = dataclasses.replace(
            County(*await store.export_directory()),
            vulnerable=await store.vulnerable_register(),
            orgs=await store.export_orgs(),
        )
    finally:
        await store.close()
    if fmt == "xlsx":
        write_county_xlsx(county, directory)
    else:
        write_county(county, directory)
        for stem in TABLES:  # a stale workbook would make the next import refuse the folder
            (directory / f"{stem}.xlsx").unlink(missing_ok=True)
    print(json.dumps({"out": str(directory), **_counts(county)}))
    return 0


async def _acl(s: Settings) -> int:
    """Append the output to deploy/mosquitto/warnengine.acl (docs/operations.md): user name = device id."""
    from warnengine.directory import County
    from warnengine.wire.loudspeaker import group_acl

    store = await _store(s)
    try:
        county = County(*await store.export_directory())
    finally:
        await store.close()
    print("# Generated by `warnengine grid acl`: each terminal reads its cells' group topics.")
    print(group_acl((d.device_id, d.cell_code) for d in county.devices))
    return 0


async def _preview(args: argparse.Namespace, s: Settings) -> int:
    from warnengine.plan.policy import DEFAULT, DisseminationPolicyError, load_policy
    from warnengine.plan.preview import preview

    try:
        area = area_from_args(args.geojson, args.circle, args.codes)
        policy = load_policy(s.policy_file) if s.policy_file.exists() else DEFAULT
    except (AreaError, DisseminationPolicyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    store = await _store(s)
    try:
        if not await store.villages():
            print(
                "error: the database holds no county directory; run `warnengine grid import DIR`",
                file=sys.stderr,
            )
            return 2
        hazard = Hazard(args.hazard) if args.hazard else None
        severity = Severity(args.severity) if args.severity else None
        status = Status(args.status) if args.status else None
        out = await preview(store, [area], hazard=hazard, severity=severity, status=status, policy=policy)
    finally:
        await store.close()
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for key, value in out.items():
            print(f"{key:>11}  {value}")
    return 0


async def _store(s: Settings) -> Any:
    from warnengine.clock import SystemClock
    from warnengine.db import connect, migrate
    from warnengine.db.store import Store

    engine = connect(s.db_url())
    await migrate(engine)
    return Store(engine, SystemClock())


def _counts(county: Any) -> dict[str, int]:
    from warnengine.directory.importer import table_counts

    return table_counts(county)
