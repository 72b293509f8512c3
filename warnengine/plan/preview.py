"""Reach preview: who and what a warning's area and policy would reach, before anyone presses release.

The same code path as the pipeline (resolve_areas → plan_warning), only counted instead of written, so
the preview a dispatcher approves is what the engine then does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from warnengine.model import Area, Channel, Hazard, HazardWarning, Level, MsgType, Severity, Status
from warnengine.plan.plan import plan_warning
from warnengine.plan.policy import DEFAULT, DisseminationPolicy
from warnengine.plan.preflight import unreachable_staff
from warnengine.resolve.directory import Directory
from warnengine.resolve.targets import resolve_areas


def preview_reach(
    directory: Directory,
    areas: Sequence[Area],
    *,
    hazard: Hazard | None = None,
    severity: Severity | None = None,
    status: Status | None = None,
    policy: DisseminationPolicy | None = None,
) -> dict[str, Any]:
    """Counts of townships, villages, groups, households, people, vulnerable households, devices and
    deliveries by channel; `problems` lists what was wrong with the area; `flagged` is true when it
    reaches nobody (such a warning is never released silently)."""
    hazard, severity = hazard or Hazard.OTHER, severity or Severity.RED
    w = HazardWarning(
        warning_id="preview",
        version=1,
        sender="preview",
        identifier="preview",
        sent=datetime.now(UTC),
        msg_type=MsgType.ALERT,
        status=status or Status.ACTUAL,
        hazard=hazard,
        severity=severity,
        event="preview",
        areas=list(areas),
    )
    reach = resolve_areas(directory, areas)
    rule = (policy or DEFAULT).rule_for(hazard, severity)
    villages, groups, households, vulnerable = set(), set(), 0, 0
    people: set[str] = set()
    devices = 0
    by_channel: dict[str, set[str]] = {}
    for plan in plan_warning(w, reach, directory, rule):
        villages.add(plan.village)
        households += len(plan.households)
        vulnerable += sum(1 for _, _, v in plan.households if v)
        for hid, cell, _ in plan.households:
            groups.add(cell)
            people.update(m.person_id for m in directory.members.get(hid, ()))
        for did, ch, _addr, pid, _hid, _cell in plan.deliveries:
            if pid is not None:  # None: a village group's robot (wechat_group)
                people.add(pid)
            by_channel.setdefault(ch, set()).add(did)
        devices += len(plan.devices)
    townships = {
        p for v in villages if (p := directory.cells[v].parent if v in directory.cells else None) is not None
    }
    counts = {ch: len(ids) for ch, ids in sorted(by_channel.items())}
    unreachable, unreachable_count = unreachable_staff(directory, villages | groups)
    if devices:
        counts[Channel.LOUDSPEAKER.value] = devices
    return {
        "townships": len(townships),
        "villages": len(villages),
        "groups": len({g for g in groups if _is_group(directory, g)}),
        "households": households,
        "people": len(people),
        "vulnerable": vulnerable,
        "devices": devices,
        "by_channel": counts,
        "rule": rule.name,
        "problems": reach.problems,
        "flagged": not villages,
        "unreachable": unreachable,  # pre-flight: responsible persons no call can reach
        "unreachable_count": unreachable_count,
    }


async def preview(
    store: Any,
    areas: Sequence[Area],
    *,
    hazard: Hazard | None = None,
    severity: Severity | None = None,
    status: Status | None = None,
    policy: DisseminationPolicy | None = None,
    directory: Directory | None = None,
) -> dict[str, Any]:
    """`preview_reach` over the directory in `store` (pass `directory` to reuse one already loaded)."""
    d = directory or await Directory.load(store)
    return preview_reach(d, areas, hazard=hazard, severity=severity, status=status, policy=policy)


def _is_group(directory: Directory, code: str) -> bool:
    cell = directory.cells.get(code)
    return cell is not None and cell.level is Level.GROUP
