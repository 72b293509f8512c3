"""The county directory on disk: grid.geojson, households.csv, people.csv, devices.csv, points.csv.

`read_county` checks everything it can and reports every problem at once with its file and line,
because a directory is usually fixed by someone editing a spreadsheet export, not by a programmer.
"""

from __future__ import annotations

import csv
import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from warnengine.directory.parse import (
    DEVICE_FIELDS,
    DEVICES_FILE,
    GRID_FILE,
    HOUSEHOLD_FIELDS,
    HOUSEHOLDS_FILE,
    OPT_IN_FIELD,
    PEOPLE_FIELDS,
    PEOPLE_FILE,
    POINT_FIELDS,
    POINTS_FILE,
    PROVIDER_FIELD,
    RESPONSIBLE_FIELD,
    SHAPEFILE,
    SIG_ALG_FIELD,
    Place,
    Problem,
    ReadOptions,
    find_table,
    open_table,
    read_devices,
    read_grid,
    read_households,
    read_people,
    read_points,
)
from warnengine.directory.parse.duty import DUTY_FIELDS, DUTY_STEM, TIME_FIELDS, read_duty
from warnengine.directory.parse.fields import FCM_FIELD, ORG_FIELDS, SHELTER_FIELDS, WECOM_FIELD
from warnengine.directory.parse.orgs import ORGS_STEM, read_orgs, write_orgs
from warnengine.directory.parse.shelters import SHELTERS_STEM, read_shelters
from warnengine.directory.parse.vulnerable import (
    VULNERABLE_FIELDS,
    VULNERABLE_OPTIONAL,
    VULNERABLE_STEM,
    read_vulnerable,
    write_vulnerable,
)
from warnengine.directory.parse.wechat_groups import (
    WECHAT_GROUP_FIELDS,
    WECHAT_GROUP_OPTIONAL,
    WECHAT_GROUPS_STEM,
    read_wechat_groups,
)
from warnengine.directory.parse.zones import read_zones, write_zones
from warnengine.model import Cell, Device, Household, Level, MonitoringPoint, Person
from warnengine.model.duty import Shift
from warnengine.model.evacuation import Shelter, Zone
from warnengine.model.grid import WeChatGroup
from warnengine.model.org import Org
from warnengine.model.vulnerable import VulnerableEntry


@dataclass(frozen=True)
class County:
    """One county's grid, households, people, devices and monitoring points, as read from or written to
    a directory."""

    cells: list[Cell]
    households: list[Household]
    people: list[Person]
    devices: list[Device]
    points: list[MonitoringPoint] = field(default_factory=list)
    shifts: list[Shift] = field(default_factory=list)  # duty(.csv|.xlsx), the roster; optional
    shelters: list[Shelter] = field(default_factory=list)  # shelters(.csv|.xlsx), 安置点; optional
    zones: list[Zone] = field(default_factory=list)  # zones.geojson, threatened zones; optional
    vulnerable: list[VulnerableEntry] = field(default_factory=list)  # vulnerable(.csv|.xlsx); optional
    # wechat_groups(.csv|.xlsx), robot keys (secrets): read and stored, never written back out; optional
    wechat_groups: list[WeChatGroup] = field(default_factory=list)
    orgs: list[Org] = field(default_factory=list)  # orgs(.csv|.xlsx), schools, enterprises…; optional

    def records(self) -> dict[str, Any]:
        """What `Store.import_directory` takes, by name (the roster goes through `replace_roster`)."""
        return {
            "cells": self.cells,
            "households": self.households,
            "people": self.people,
            "devices": self.devices,
            "points": self.points,
            "shelters": self.shelters,
            "zones": self.zones,
            "vulnerable": self.vulnerable,
            "wechat_groups": self.wechat_groups,
            "orgs": self.orgs,
        }


class DirectoryError(Exception):
    """The directory has problems; `problems` lists every one as (file, line, message)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p.file}:{p.line}: {p.message}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the county directory:\n{shown}{more}")


def write_county(county: County, directory: Path, time_zone: str = "Asia/Shanghai") -> None:
    """Write the files into `directory` (created if needed), coordinates rounded to 6 decimals, roster
    times in `time_zone` with their offset."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / GRID_FILE, "w", encoding="utf-8") as f:
        # One feature per line: diffs stay readable and read errors can name the line.
        f.write('{"type":"FeatureCollection","features":[\n')
        for i, cell in enumerate(county.cells):
            feature = {
                "type": "Feature",
                "properties": {
                    "code": cell.code,
                    "level": cell.level.value,
                    "parent": cell.parent,
                    "name": cell.name,
                },
                "geometry": {
                    "type": cell.geometry["type"],
                    "coordinates": _round_coords(cell.geometry["coordinates"]),
                },
            }
            f.write(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if i < len(county.cells) - 1 else "\n")
        f.write("]}\n")
    _write_csv(
        directory / HOUSEHOLDS_FILE,
        HOUSEHOLD_FIELDS,
        (
            (h.household_id, h.cell_code, round(h.lon, 6), round(h.lat, 6), h.members, int(h.vulnerable))
            for h in county.households
        ),
    )
    # The optional columns (a second push token, a WeCom userid) only when someone has one.
    extra = [f for f in (FCM_FIELD, WECOM_FIELD) if any(getattr(p, f) for p in county.people)]
    _write_csv(
        directory / PEOPLE_FILE,
        (*PEOPLE_FIELDS, OPT_IN_FIELD, *extra),
        (
            (
                p.person_id,
                p.household_id or "",
                p.cell_code,
                p.name,
                p.role.value,
                p.phone or "",
                p.wechat_openid or "",
                p.app_token or "",
                int(p.drill_opt_in),
                *(getattr(p, f) or "" for f in extra),
            )
            for p in county.people
        ),
    )
    # The provider column only when a terminal is reached through the EB platform: MQTT-only exports stay
    # as they were.
    eb = any(d.provider != "mqtt" for d in county.devices)
    _write_csv(
        directory / DEVICES_FILE,
        (*DEVICE_FIELDS, OPT_IN_FIELD, SIG_ALG_FIELD, RESPONSIBLE_FIELD, *((PROVIDER_FIELD,) if eb else ())),
        (
            (
                d.device_id,
                d.cell_code,
                round(d.lon, 6),
                round(d.lat, 6),
                d.kind,
                int(d.drill_opt_in),
                d.sig_alg,
                d.responsible_id or "",
                *((d.provider,) if eb else ()),
            )
            for d in county.devices
        ),
    )
    if county.points:
        _write_csv(
            directory / POINTS_FILE,
            POINT_FIELDS,
            (
                (
                    m.point_id,
                    m.cell_code,
                    m.name,
                    round(m.lon, 6),
                    round(m.lat, 6),
                    m.kind,
                    m.lead_person_id or "",
                    ";".join(m.households),
                )
                for m in county.points
            ),
        )
    else:
        (directory / POINTS_FILE).unlink(missing_ok=True)  # an export must not keep a stale file
    _write_shelters(county.shelters, directory)
    write_zones(county.zones, directory)
    write_vulnerable(county.vulnerable, directory)
    write_orgs(county.orgs, directory)
    if county.shifts:
        tz = ZoneInfo(time_zone)
        _write_csv(
            directory / f"{DUTY_STEM}.csv",
            DUTY_FIELDS,
            (
                (s.cell_code, s.role.value, s.post.value, s.person_id, _stamp(s.start, tz), _stamp(s.end, tz))
                for s in county.shifts
            ),
        )
    else:
        (directory / f"{DUTY_STEM}.csv").unlink(missing_ok=True)


def read_county(directory: Path, options: ReadOptions | None = None) -> County:
    """Read and validate a county directory; raises DirectoryError listing every problem found."""
    county, problems = check_county(directory, options)
    if problems:
        raise DirectoryError(problems)
    return county


def check_county(
    directory: Path,
    options: ReadOptions | None = None,
    progress: Callable[[str], None] | None = None,
    base: County | None = None,
) -> tuple[County, list[Problem]]:
    """The county's valid rows and every problem found (`grid import --skip-bad-rows` imports the rows;
    see `without_orphans`). `progress` is told each file as it is started.

    `base` (the directory on record) makes a partial import: a table whose file is absent is not required,
    and rows the files refer to may be on record instead (one township's people, households kept).
    The county returned holds only the files' rows."""
    problems: list[Problem] = []
    with gc_paused():
        county = _read(directory, options or ReadOptions(), problems, progress or (lambda _: None), base)
    return county, problems


def has_grid(directory: Path) -> bool:
    return (directory / GRID_FILE).is_file() or (directory / SHAPEFILE).is_file()


def _read(
    directory: Path,
    options: ReadOptions,
    problems: list[Problem],
    progress: Callable[[str], None],
    base: County | None,
) -> County:
    # Rows that failed validation still count as declared, so one bad row is reported once and does not
    # also make every row that refers to it fail.
    # A file that cannot be read at all is reported once; references into it are then not checked.
    cells: list[Cell] = []
    levels: dict[str, Level] | None = {c.code: c.level for c in base.cells} if base else None
    if base is None or has_grid(directory):
        progress("grid")
        cells, read_levels = read_grid(
            directory, problems, options.crs if options.crs_given else None, options.encoding
        )
        levels = _overlay(levels, read_levels, True)
    known = {c.code: c for c in (base.cells if base else [])} | {c.code: c for c in cells}
    place = Place(known, options.crs)

    present: set[str] = set()  # the tables given as files (read or not)

    def table(
        stem: str,
        fields: tuple[str, ...],
        optional: tuple[str, ...] = (),
        required: bool = True,
        dates: tuple[str, ...] = (),
    ) -> Any:
        path = find_table(directory, stem, problems)
        if path is not None:
            present.add(stem)
        else:
            if required and base is None:
                problems.append(
                    Problem(f"{stem}.csv", 0, f"缺少文件 / file is missing ({stem}.csv or {stem}.xlsx)")
                )
            return None
        progress(path.name)
        return open_table(path, fields, optional, options, problems, dates)

    homes_table = table("households", HOUSEHOLD_FIELDS)
    households, household_cells = read_households(homes_table, levels, place, problems)
    on_record = {h.household_id: h.cell_code for h in base.households} if base else None
    household_cells = _overlay(on_record, household_cells, "households" in present)
    people_table = table("people", PEOPLE_FIELDS, (OPT_IN_FIELD, FCM_FIELD, WECOM_FIELD))
    people = read_people(people_table, levels, household_cells, options.phone_region, problems)
    roles = {p.person_id: p.role for p in people} if people else None  # None: unreadable, reported
    if base is not None and (people or "people" not in present):
        roles = {**{p.person_id: p.role for p in base.people}, **(roles or {})}
    devices = read_devices(
        table("devices", DEVICE_FIELDS, (OPT_IN_FIELD, SIG_ALG_FIELD, RESPONSIBLE_FIELD, PROVIDER_FIELD)),
        levels,
        place,
        problems,
        roles,
    )
    points_table = table("points", POINT_FIELDS, required=False)
    points = read_points(points_table, place, levels, household_cells, roles, problems)
    duty_table = table(DUTY_STEM, DUTY_FIELDS, required=False, dates=TIME_FIELDS)
    shifts = read_duty(duty_table, levels, roles, ZoneInfo(options.time_zone), problems)
    shelters_table = table(SHELTERS_STEM, SHELTER_FIELDS, required=False)
    shelters = read_shelters(shelters_table, place, levels, roles, problems)
    # A partial import without households.csv finds the zones' households among those on record.
    in_zones = households if "households" in present or base is None else base.households
    zones = read_zones(directory, in_zones, problems)
    register = table(VULNERABLE_STEM, VULNERABLE_FIELDS, VULNERABLE_OPTIONAL, required=False)
    vulnerable = read_vulnerable(register, household_cells, roles, problems)
    groups_table = table(WECHAT_GROUPS_STEM, WECHAT_GROUP_FIELDS, WECHAT_GROUP_OPTIONAL, required=False)
    groups = read_wechat_groups(groups_table, levels, problems)
    orgs = read_orgs(table(ORGS_STEM, ORG_FIELDS, required=False), place, levels, roles, problems)
    return County(
        cells, households, people, devices, points, shifts, shelters, zones, vulnerable, groups, orgs
    )


def _write_shelters(shelters: list[Shelter], directory: Path) -> None:
    path = directory / f"{SHELTERS_STEM}.csv"
    if not shelters:
        path.unlink(missing_ok=True)  # an export must not keep a stale file
        return
    rows = (
        (
            x.shelter_id,
            x.cell_code,
            x.name,
            round(x.lon, 6),
            round(x.lat, 6),
            x.capacity,
            x.keeper_person_id or "",
        )
        for x in shelters
    )
    _write_csv(path, SHELTER_FIELDS, rows)


def _overlay(
    on_record: dict[str, Any] | None, from_file: dict[str, Any] | None, file_given: bool
) -> dict[str, Any] | None:
    """What references are checked against: the record's rows with the file's over them; a file given but
    unreadable (None) turns the checks off, as without a base."""
    if not file_given:
        return on_record if on_record is not None else from_file
    if from_file is None or on_record is None:
        return from_file
    return {**on_record, **from_file}


def _stamp(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).isoformat(timespec="minutes")


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(coords, 6)
    return [_round_coords(c) for c in coords]


def _write_csv(path: Path, header: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while bulk-building objects: the rows are acyclic, and the repeated full
    collections over a fast-growing heap cost ~25% of a large read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
