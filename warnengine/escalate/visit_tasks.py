"""Door-to-door work per village (入户): who visits which unreached households, shared to end soonest."""

from __future__ import annotations

from hashlib import sha256

from warnengine.escalate.duty import OnDuty
from warnengine.model import HazardWarning, Role
from warnengine.model.records import VisitTask


def visit_tasks(
    duty: OnDuty, w: HazardWarning, unreached: list[tuple[str, str, str, bool]], silent: set[str]
) -> list[VisitTask]:
    """Door-to-door work per village, shared so it ends soonest: the village's group leaders and grid
    members who answered their own 叫应 split its unreached households evenly (see `_share`); a village
    with nobody on record to go gets its grid head (the one on duty, see escalate/duty.py)."""
    directory = duty.directory
    villages: dict[str, list[tuple[str, str, bool]]] = {}
    for hid, village, group, vulnerable in unreached:
        villages.setdefault(village, []).append((group, hid, vulnerable))
    tasks: list[VisitTask] = []
    for village, homes in sorted(villages.items()):
        homes.sort(key=lambda x: (not x[2], x[0], x[1]))
        leader_of = {
            g: leader.person_id
            for g in sorted({g for g, _, _ in homes})
            if (leader := duty.first(g, Role.GROUP_LEADER, silent)) is not None
        }
        helpers = [
            s.person_id
            for s in directory.staff.get(village, [])
            if s.role is Role.GRID_MEMBER and s.person_id not in silent
        ]
        visitors = list(dict.fromkeys([*leader_of.values(), *helpers]))
        if not visitors:
            head = duty.first(village, Role.GRID_HEAD, silent) or duty.first(village, Role.GRID_HEAD)
            tasks += _tasks_by_group(w, village, head.person_id if head else None, 1, homes)
            continue
        for who, mine in share(homes, leader_of, visitors).items():
            tasks += _tasks_by_group(w, village, who, 0, mine)
    return tasks


def share(
    homes: list[tuple[str, str, bool]], leader_of: dict[str, str], visitors: list[str]
) -> dict[str, list[tuple[str, str, bool]]]:
    """Households (group, id, vulnerable; vulnerable first) to visitors. Vulnerable households are shared
    out first, so each visitor's first calls are theirs; a household goes to its own group leader while
    that leader holds less than an equal share, otherwise to whoever holds least. No one ends with more
    than an equal share rounded up, so a village with one crowded group still finishes together."""
    load = dict.fromkeys(visitors, 0)
    leaders = set(leader_of.values())
    least: dict[str, tuple[int, bool]] = {}  # ties go to helpers: leaders stay near home
    out: dict[str, list[tuple[str, str, bool]]] = {v: [] for v in visitors}
    vulnerable = sum(1 for _, _, v in homes if v)
    for part, total in ((homes[:vulnerable], vulnerable), (homes[vulnerable:], len(homes))):
        cap = -(-total // len(visitors))  # ceiling
        rest = []
        for home in part:  # first each leader's own group, up to the share
            own = leader_of.get(home[0])
            if own is not None and load[own] < cap:
                load[own] += 1
                out[own].append(home)
            else:
                rest.append(home)
        for v in visitors:
            least[v] = (load[v], v in leaders)
        for home in rest:  # then the rest to whoever holds least
            who = min(visitors, key=least.__getitem__)
            load[who] += 1
            least[who] = (load[who], who in leaders)
            out[who].append(home)
    return {v: hs for v, hs in out.items() if hs}


def _tasks_by_group(
    w: HazardWarning, village: str, who: str | None, level: int, homes: list[tuple[str, str, bool]]
) -> list[VisitTask]:
    groups: dict[str, list[tuple[str, bool]]] = {}
    for group, hid, vulnerable in homes:
        groups.setdefault(group, []).append((hid, vulnerable))
    return [_task(w, village, g, who, level, hs) for g, hs in sorted(groups.items())]


def _task(
    w: HazardWarning, village: str, group: str, who: str | None, level: int, homes: list[tuple[str, bool]]
) -> VisitTask:
    task_id = "v-" + sha256(f"{w.warning_id}\x1f{group}\x1f{who}".encode()).hexdigest()[:20]
    households = tuple(sorted(((h, vul, None) for h, vul in homes), key=lambda x: (not x[1], x[0])))
    return VisitTask(task_id, w.warning_id, w.version, village, group, who, level, "open", households)
