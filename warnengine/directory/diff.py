"""What an import changes: the imported rows compared with the record, table by table.

An office worker exports the directory, edits a few rows in a spreadsheet and imports the folder again; only
the rows that differ are written, and each one is audited with its values before and after. Coordinates are
compared at the 6 decimals files carry (about 0.1 m), so a round trip through a file changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from warnengine.directory.files import County

M = TypeVar("M", bound=BaseModel)
_DIGITS = 6


@dataclass(frozen=True)
class RowChange:
    """One row added or changed: its table, id and the fields that differ (before is None when added)."""

    table: str
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass
class CountyChanges:
    """The rows to write (added or changed only), how many of each per table, and every change."""

    county: County
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[RowChange] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out = {"added": 0, "changed": 0, "unchanged": 0}
        for per in self.counts.values():
            for k, n in per.items():
                out[k] += n
        return out


def diff_county(base: County | None, new: County) -> CountyChanges:
    """`new`'s rows that are not in `base` or differ from it; with no base everything is added."""
    base = base or County([], [], [], [], [], [])
    result = CountyChanges(county=new)
    cells = _table("cells", base.cells, new.cells, lambda c: c.code, result)
    households = _table("households", base.households, new.households, lambda h: h.household_id, result)
    people = _table("people", base.people, new.people, lambda p: p.person_id, result)
    devices = _table("devices", base.devices, new.devices, lambda d: d.device_id, result)
    points = _table("points", base.points, new.points, lambda m: m.point_id, result)
    # Shelters, zones, the vulnerable register, robot keys and orgs are few and written whole; the roster
    # is replaced whole (replace_roster).
    result.county = County(
        cells,
        households,
        people,
        devices,
        points,
        new.shifts,
        new.shelters,
        new.zones,
        new.vulnerable,
        new.wechat_groups,
        new.orgs,
    )
    return result


def _table(
    name: str, before: Sequence[M], after: Sequence[M], key: Callable[[M], str], into: CountyChanges
) -> list[M]:
    old = {key(m): m for m in before}
    write: list[M] = []
    counts = {"added": 0, "changed": 0, "unchanged": 0}
    for row in after:
        k = key(row)
        now = _plain(row)
        was = old.get(k)
        if was is None:
            counts["added"] += 1
            into.changes.append(RowChange(name, k, None, _brief(now)))
            write.append(row)
            continue
        then = _plain(was)
        fields = [f for f in now if now[f] != then.get(f)]
        if not fields:
            counts["unchanged"] += 1
            continue
        counts["changed"] += 1
        into.changes.append(
            RowChange(name, k, _brief({f: then.get(f) for f in fields}), _brief({f: now[f] for f in fields}))
        )
        write.append(row)
    into.counts[name] = counts
    return write


def _plain(model: BaseModel) -> dict[str, Any]:
    return {k: _rounded(v) for k, v in model.model_dump(mode="json").items()}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DIGITS)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _brief(values: dict[str, Any]) -> dict[str, Any]:
    """A boundary is thousands of numbers: the audit says it changed, not how."""
    return {k: ("(boundary)" if k == "geometry" else v) for k, v in values.items()}
