"""One directory import, as `grid import` and the console's upload both run it: check the folder against
the record, write only what changed, audit it, and say what happened (or list every problem)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from warnengine.directory.diff import CountyChanges, diff_county
from warnengine.directory.files import County, check_county
from warnengine.directory.orphans import without_orphans
from warnengine.directory.parse import Problem, ReadOptions
from warnengine.model import Cell, Device, Household, MonitoringPoint, Person
from warnengine.model.duty import Shift
from warnengine.model.evacuation import Shelter, Zone
from warnengine.model.grid import WeChatGroup
from warnengine.model.org import Org
from warnengine.model.vulnerable import VulnerableEntry

AUDITED_CHANGES = 1000  # rows listed before/after in the audit entry; the counts are always whole


class DirectoryStore(Protocol):
    """What an import needs of the record (warnengine.db.store.Store has it)."""

    async def villages(self) -> list[tuple[str, str, dict[str, Any]]]: ...

    async def export_directory(
        self,
    ) -> tuple[list[Cell], list[Household], list[Person], list[Device], list[MonitoringPoint]]: ...

    async def import_directory(
        self,
        cells: list[Cell],
        households: list[Household],
        people: list[Person],
        devices: list[Device],
        points: Sequence[MonitoringPoint] = (),
        skipped: Sequence[tuple[str, int, str]] = (),
        shelters: Sequence[Shelter] = (),
        zones: Sequence[Zone] = (),
        vulnerable: Sequence[VulnerableEntry] = (),
        orgs: Sequence[Org] = (),
        changes: dict[str, Any] | None = None,
        actor: str = "grid import",
        wechat_groups: Sequence[WeChatGroup] = (),
    ) -> None: ...

    async def replace_roster(
        self, shifts: Sequence[Shift], cells: Sequence[str] | None = None, actor: str | None = "duty import"
    ) -> None: ...


@dataclass
class ImportResult:
    """`imported` False: nothing was written, `problems` says why. Otherwise what was written."""

    imported: bool
    problems: list[Problem]
    counts: dict[str, int] = field(default_factory=dict)  # rows in the files, per table
    changes: CountyChanges | None = None
    kept: list[str] = field(default_factory=list)  # tables not given, kept as on record

    def summary(self) -> dict[str, Any]:
        totals = self.changes.totals() if self.changes else {}
        return {**self.counts, "skipped": len(self.problems), **totals, "kept": self.kept}


async def import_folder(
    store: DirectoryStore,
    folder: Path,
    options: ReadOptions,
    *,
    skip_bad_rows: bool = False,
    actor: str = "grid import",
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Check `folder` (a partial import when a directory is on record) and, with no problems or with
    `skip_bad_rows`, write its added and changed rows."""
    base = County(*await store.export_directory()) if await store.villages() else None
    # Seconds of CPU for a large county: off the event loop, which may be serving dispatchers.
    county, problems = await asyncio.to_thread(check_county, folder, options, progress, base)
    if problems:
        if not skip_bad_rows:
            return ImportResult(False, problems)
        county, orphans = without_orphans(county, base)
        problems += orphans
    diff = diff_county(base, county)
    write = diff.county
    await store.import_directory(
        **write.records(),
        skipped=[(p.file, p.line, p.message) for p in problems],
        changes=_audited(diff),
        actor=actor,
    )
    if county.shifts:  # duty.csv / duty.xlsx: the roster is replaced with the file's
        await store.replace_roster(county.shifts, actor=actor)
    counts = table_counts(county)
    kept = [t for t, n in counts.items() if n == 0 and base is not None and table_counts(base)[t]]
    return ImportResult(True, problems, counts, diff, kept)


def table_counts(county: County) -> dict[str, int]:
    return {
        "cells": len(county.cells),
        "households": len(county.households),
        "people": len(county.people),
        "devices": len(county.devices),
        "points": len(county.points),
        "shifts": len(county.shifts),
        "shelters": len(county.shelters),
        "zones": len(county.zones),
        "vulnerable": len(county.vulnerable),
        "wechat_groups": len(county.wechat_groups),
        "orgs": len(county.orgs),
    }


def change_lines(result: ImportResult) -> list[str]:
    """What changed, per table, for the terminal (and the console)."""
    counts = result.changes.counts if result.changes else {}
    lines = [
        f"{table}: 新增 {n['added']} / added, 修改 {n['changed']} / changed, "
        f"未变 {n['unchanged']} / unchanged"
        for table, n in counts.items()
        if any(n.values())
    ]
    if result.kept:
        lines.append(f"未提供文件，保留记录中的 / no file given, kept as on record: {', '.join(result.kept)}")
    return lines


def _audited(diff: CountyChanges) -> dict[str, Any]:
    rows = [
        {"table": c.table, "id": c.key, "before": c.before, "after": c.after}
        for c in diff.changes[:AUDITED_CHANGES]
    ]
    return {"changes": diff.counts, "changed_rows": rows}
