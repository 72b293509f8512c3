"""Doors that get their own person at once, at step 0, not at the ladder's visit step (issue 17):

- the vulnerable register's helper (包保责任人): for the severities the policy names (`helper_first`), each
  registered household the warning targets — not yet reached, or ordered to evacuate (a "收到" does not move
  a bedridden person) — goes on a visit task for its helper, and the helper is 叫应'd: one message naming
  every door (category, what moving takes, the shelter), on the rule's channels and a phone call when the
  rule calls by phone (HELPER_STEP, recorded, so a reply acknowledges it and silence is escalated by the
  ladder's escalate steps like any unconfirmed visit);
- a monitoring point's lead (点长): a warning covering a point (its alarm, or any warning targeting a
  household the point threatens) gives the lead a task listing the point's threatened households door by
  door and asks for a report from the point (POINT_STEP): a reply that is not "收到" reaches the inbox as a
  `point_report`, as does one posted through the API. Points of every kind (geohazard, 易涝点, 涉水点, 水库).

Each runs once per warning version; the tasks are idempotent (ids hash warning, person and group).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from hashlib import sha256

import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.rows import _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, HazardWarning, Role, steps
from warnengine.model.records import VisitTask
from warnengine.model.vulnerable import CATEGORY_ZH, MOBILITY_ZH
from warnengine.obs import metrics
from warnengine.plan.policy import DisseminationPolicy, Rule
from warnengine.resolve.directory import Register

log = structlog.get_logger("warnengine.escalate")

HELPER_STEP = steps.HELPER.start  # helpers' 叫应 (model/steps.py: the table of step numbers)
POINT_STEP = steps.POINT.start  # point leads' tasks

Row = tuple[object, ...]


async def first_doors(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    policy: DisseminationPolicy,
    done: Set[int],
    now: float,
    shelter_of: Mapping[str, str],
) -> list[Row]:
    """This sweep's helper and point-lead tasks (once per version: `done` holds the steps recorded)."""
    rows: list[Row] = []
    if HELPER_STEP not in done and w.severity in policy.helper_first and duty.directory.register:
        rows += await _helpers(store, duty, w, rule, now, shelter_of)
    if POINT_STEP not in done and Role.POINT_LEAD in rule.staff_roles:
        rows += await _point_leads(store, duty, w, rule, now, shelter_of)
    return rows


async def _helpers(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    now: float,
    shelter_of: Mapping[str, str],
) -> list[Row]:
    register = duty.directory.register
    doors = {h[0]: (h[1], h[2]) for h in await store.unreached_households(w.warning_id) if h[0] in register}
    for e in await store.evacuation_households(w.warning_id):
        if e["household_id"] in register and e["outcome"] is None:
            doors.setdefault(str(e["household_id"]), (str(e["village_code"]), str(e["cell_code"])))
    people = duty.directory.contacts()
    by_helper: dict[tuple[str, str, str], list[str]] = {}
    for hid, (village, group) in sorted(doors.items()):
        helper = register[hid].helper
        if helper is None or helper not in people:
            log.warning("helper_not_in_directory", household=hid, helper=helper)
            continue
        by_helper.setdefault((helper, village, group), []).append(hid)
    tasks = [
        VisitTask(
            _task_id(w, "helper", who, group),
            w.warning_id,
            w.version,
            village,
            group,
            who,
            0,
            "open",
            tuple((h, True, None) for h in homes),
        )
        for (who, village, group), homes in sorted(by_helper.items())
    ]
    await store.create_visit_tasks(tasks, now)
    voice = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
    channels = tuple(dict.fromkeys((*rule.channels, *voice)))
    mine: dict[str, list[VisitTask]] = {}
    for task in tasks:
        mine.setdefault(str(task.assignee), []).append(task)
    rows: list[Row] = []
    for who, theirs in sorted(mine.items()):
        homes = [h for task in theirs for h, _, _ in task.households]
        text = helper_text(homes, register, shelter_of)
        rows += _rows(w, people[who], channels, HELPER_STEP, theirs[0].village_code, None, text, now)
    await store.save_plan(rows, [])
    await store.record_step(w.warning_id, w.version, HELPER_STEP, "helper", len(doors), now)
    metrics.VISIT_TASKS.labels("helper").inc(len(tasks))
    log.info("helpers_first", helpers=len(mine), households=sum(len(t.households) for t in tasks))
    return rows


async def _point_leads(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    now: float,
    shelter_of: Mapping[str, str],
) -> list[Row]:
    covered = await store.points_covered(w.warning_id)
    people = duty.directory.contacts()
    tasks: list[VisitTask] = []
    texts: dict[str, list[str]] = {}
    for pid, name, kind, cell, lead, homes in covered:
        if lead is None or lead not in people:
            log.warning("point_without_lead", point=pid, lead=lead)
            continue
        task = VisitTask(
            _task_id(w, f"point:{pid}", lead, cell),
            w.warning_id,
            w.version,
            cell[:12],
            cell,
            lead,
            0,
            "open",
            tuple((h, False, None) for h in homes),
        )
        tasks.append(task)
        texts.setdefault(lead, []).append(point_text(name, kind, homes, shelter_of))
    await store.create_visit_tasks(tasks, now)
    rows: list[Row] = []
    for task in tasks:
        who = str(task.assignee)
        if who in texts:
            text = (
                "；".join(texts.pop(who)) + "。到场后请回复现场情况（险情/无异常），或在App中报送点位报告。"
            )
            rows += _rows(w, people[who], rule.channels, POINT_STEP, task.village_code, None, text, now)
    await store.save_plan(rows, [])
    await store.record_step(w.warning_id, w.version, POINT_STEP, "point_lead", len(tasks), now)
    metrics.VISIT_TASKS.labels("point_lead").inc(len(tasks))
    log.info("point_lead_tasks", points=len(tasks))
    return rows


def helper_text(homes: list[str], register: Mapping[str, Register], shelter_of: Mapping[str, str]) -> str:
    doors = "、".join(h + f"（{register_label(register.get(h))}）" + _to(shelter_of.get(h)) for h in homes)
    return (
        f"叫应（包保）：请立即上门{doors}，协助转移或确认安全，完成后回复“完成”或在App中逐户填报。"
        " / You are this household's helper: go now."
    )


def point_text(name: str, kind: str, homes: list[str], shelter_of: Mapping[str, str]) -> str:
    doors = "、".join(h + _to(shelter_of.get(h)) for h in homes)
    return (
        f"点长任务：{name}（{POINT_KIND_ZH.get(kind, kind)}）在预警范围内，请立即到点位查看，逐户通知{doors}"
    )


def register_label(entry: Register | None) -> str:
    """独居·需轮椅: the entry's words in Chinese (as stored when the code does not know them)."""
    if entry is None:
        return ""
    categories = {c.value: zh for c, zh in CATEGORY_ZH.items()}
    mobilities = {m.value: zh for m, zh in MOBILITY_ZH.items()}
    return (
        f"{categories.get(entry.category, entry.category)}·{mobilities.get(entry.mobility, entry.mobility)}"
    )


POINT_KIND_ZH = {
    "landslide": "滑坡",
    "debris_flow": "泥石流",
    "collapse": "崩塌",
    "subsidence": "地面塌陷",
    "geohazard": "地质灾害隐患点",
    "flood_prone": "易涝点",
    "river_crossing": "涉水点",
    "reservoir": "水库",
    "flash_flood": "山洪沟",
}


def _to(shelter: str | None) -> str:
    return f"→{shelter}" if shelter else ""


def _task_id(w: HazardWarning, kind: str, who: str, group: str) -> str:
    return "v-" + sha256(f"{w.warning_id}\x1f{kind}\x1f{group}\x1f{who}".encode()).hexdigest()[:20]
