"""Door-to-door visit tasks (入户): who holds them, which households are left, and a visitor's report.

The tasks are the escalation ladder's (warnengine/escalate); a visitor — a group leader, a grid head, a
dispatcher — reports each household here (or replies "完成" by SMS), and the household is reached or named
unreachable with the outcome as the reason; needs_help and a first nobody_home stay open (see
escalate/follow_up.py). Reports for households not on the task, or on a task that was cancelled (解除),
change nothing and say so.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.errors import not_found
from warnengine.api.routing import STAFF, Op, body, json_out
from warnengine.api.warning_models import WARNING_ID
from warnengine.obs import metrics

TASK_ID = {"type": "string", "pattern": r"^v-[0-9a-f]{20}$"}
HOUSEHOLD_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,32}$"}


class VisitHousehold(BaseModel):
    household_id: str
    vulnerable: bool
    outcome: str | None


class VisitTaskOut(BaseModel):
    task_id: str
    village_code: str
    group_code: str
    assignee: str | None
    level: int = Field(description="0 group leader, 1 village grid head, 2 township dispatcher")
    state: str
    households: list[VisitHousehold]


class VisitList(BaseModel):
    tasks: list[VisitTaskOut]


class VisitReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "nobody_home", "refused", "moved", "needs_help"]
    note: str | None = Field(default=None, max_length=500)


class VisitRecorded(BaseModel):
    task_id: str
    household_id: str
    outcome: str


async def list_visits(request: web.Request) -> web.Response:
    store = ctx(request).store
    tasks = await store.visit_tasks(request.match_info["warning_id"], ("open", "accepted", "done"))
    out = [
        VisitTaskOut(
            task_id=t.task_id,
            village_code=t.village_code,
            group_code=t.group_code,
            assignee=t.assignee,
            level=t.level,
            state=t.state,
            households=[VisitHousehold(household_id=h, vulnerable=v, outcome=o) for h, v, o in t.households],
        )
        for t in tasks
    ]
    return json_out(VisitList(tasks=out))


async def report_visit(request: web.Request) -> web.Response:
    task_id, household = request.match_info["task_id"], request.match_info["household_id"]
    report = body(request, VisitReport)
    store = ctx(request).store
    if not await store.report_visit(task_id, household, report.outcome, store.clock.now(), report.note):
        # Kept in the audit log: a report for a door not on the list, or on a closed task, is evidence too.
        where = f"{task_id}/{household}"
        await record(request, "visit.report.refused", where, outcome=report.outcome, reason="not_open")
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise not_found(f"open visit task {task_id} with household {household}")
    await record(request, "visit.report", f"{task_id}/{household}", outcome=report.outcome, note=report.note)
    return json_out(VisitRecorded(task_id=task_id, household_id=household, outcome=report.outcome))


OPS = [
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/visits",
        list_visits,
        "Visit tasks (入户) of a warning, vulnerable households first",
        "visits",
        STAFF,
        response=VisitList,
        path_params={"warning_id": WARNING_ID},
    ),
    Op(
        "POST",
        "/api/v1/visits/{task_id}/households/{household_id}",
        report_visit,
        "A visitor's outcome for one household of their task",
        "visits",
        STAFF,
        body=VisitReport,
        response=VisitRecorded,
        errors=(404,),
        path_params={"task_id": TASK_ID, "household_id": HOUSEHOLD_ID},
    ),
]
