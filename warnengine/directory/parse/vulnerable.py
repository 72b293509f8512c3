"""vulnerable(.csv|.xlsx) (optional): the vulnerable register (重点人群包保台账), one row per vulnerable
household — its category, what it needs to move, and its helper (包保责任人, a person_id of people). Every
problem is reported per row, with its column: an unknown household or helper, a bad category or mobility."""

from __future__ import annotations

import csv
from pathlib import Path

from warnengine.directory.parse.fields import Problem, check_unique
from warnengine.directory.parse.tables import Table
from warnengine.model import Role
from warnengine.model.vulnerable import (
    CATEGORY_ZH,
    MOBILITY_ZH,
    Mobility,
    VulnerableCategory,
    VulnerableEntry,
)

VULNERABLE_STEM = "vulnerable"
VULNERABLE_FIELDS = ("household_id", "category", "helper_person_id")
VULNERABLE_OPTIONAL = ("mobility", "note")

# Values as counties write them: the project's names, the Chinese words and common variants.
CATEGORIES: dict[str, VulnerableCategory] = {
    **{c.value: c for c in VulnerableCategory},
    **{zh: c for c, zh in CATEGORY_ZH.items()},
    "独居老人": VulnerableCategory.LIVING_ALONE,
    "空巢": VulnerableCategory.LIVING_ALONE,
    "空巢老人": VulnerableCategory.LIVING_ALONE,
    "高龄老人": VulnerableCategory.ELDERLY,
    "老人": VulnerableCategory.ELDERLY,
    "残疾人": VulnerableCategory.DISABLED,
    "失能": VulnerableCategory.BEDRIDDEN,
    "卧床不起": VulnerableCategory.BEDRIDDEN,
    "行动不便": VulnerableCategory.DISABLED,
    "孕妇": VulnerableCategory.OTHER,
    "留守儿童": VulnerableCategory.OTHER,
}
MOBILITIES: dict[str, Mobility] = {
    **{m.value: m for m in Mobility},
    **{zh: m for m, zh in MOBILITY_ZH.items()},
    "自行": Mobility.INDEPENDENT,
    "可自行转移": Mobility.INDEPENDENT,
    "搀扶": Mobility.ASSISTED,
    "轮椅": Mobility.WHEELCHAIR,
    "担架": Mobility.STRETCHER,
    "抬送": Mobility.STRETCHER,
}
_HELPER_ROLES = frozenset(Role) - {Role.DISPATCHER}  # a neighbour (a resident) may be the helper too


def read_vulnerable(
    table: Table | None,
    household_cells: dict[str, str] | None,
    roles: dict[str, Role] | None,
    problems: list[Problem],
) -> list[VulnerableEntry]:
    """The register's valid rows; references are unchecked when their file is unusable (reported)."""
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    for line, row in table.rows:
        hid, category, helper = row[:3]
        extra = dict(zip(table.header[3:], row[3:], strict=True))
        here = len(problems)
        check_unique(hid, seen, "household_id", name, line, problems)
        seen.add(hid)
        if hid and household_cells is not None and hid not in household_cells:
            problems.append(Problem(name, line, f"没有该户 / unknown household {hid}", "household_id", hid))
        kind = CATEGORIES.get(category.strip().lower())
        if kind is None:
            choices = "、".join(CATEGORY_ZH.values())
            message = f"类别不对 / bad category {category!r} (one of {choices} / {', '.join(CATEGORIES)})"
            problems.append(Problem(name, line, message, "category", category))
        mobility_text = extra.get("mobility", "").strip().lower()
        mobility = MOBILITIES.get(mobility_text) if mobility_text else Mobility.ASSISTED
        if mobility is None:
            choices = "、".join(MOBILITY_ZH.values())
            message = f"转移需求不对 / bad mobility {mobility_text!r} (one of {choices})"
            problems.append(Problem(name, line, message, "mobility", mobility_text))
        _check_helper(helper, roles, name, line, problems)
        if len(problems) == here:
            assert kind is not None and mobility is not None
            out.append(
                VulnerableEntry(
                    household_id=hid,
                    category=kind,
                    mobility=mobility,
                    helper_person_id=helper or None,
                    note=extra.get("note", "")[:200],
                )
            )
    return out


def _check_helper(
    helper: str, roles: dict[str, Role] | None, name: str, line: int, problems: list[Problem]
) -> None:
    """A helper is named (the register's point) and is a person of the directory, not a dispatcher (the
    duty room cannot go to a door)."""
    if not helper:
        problems.append(Problem(name, line, "缺少包保责任人 / missing helper_person_id", "helper_person_id"))
    elif roles is not None and helper not in roles:
        message = f"没有该包保责任人 / unknown helper_person_id {helper}"
        problems.append(Problem(name, line, message, "helper_person_id", helper))
    elif roles is not None and roles[helper] not in _HELPER_ROLES:
        message = f"包保责任人须能入户 / helper {helper} is a {roles[helper].value}: name someone who can go"
        problems.append(Problem(name, line, message, "helper_person_id", helper))


def write_vulnerable(entries: list[VulnerableEntry], directory: Path) -> None:
    path = directory / f"{VULNERABLE_STEM}.csv"
    if not entries:
        path.unlink(missing_ok=True)  # an export must not keep a stale file
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow((*VULNERABLE_FIELDS, *VULNERABLE_OPTIONAL))
        writer.writerows(
            (e.household_id, e.category.value, e.helper_person_id or "", e.mobility.value, e.note)
            for e in entries
        )
