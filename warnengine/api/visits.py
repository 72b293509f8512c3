"""Door-to-door visit tasks (入户): who holds them, which households are left, and a visitor's report.

The tasks are the escalation ladder's (warnengine/escalate); a visitor — a group leader, a grid head, a
dispatcher — reports each household here (or replies "完成" by SMS), and the household is reached or named
unreachable with the outcome as the reason; needs_help and a first nobody_home stay open (see
escalate/follow_up.py). 到人 (issue 17): the list names each household's residents and who of them is
accounted for; a report may name the persons the visitor saw (`persons`, ids from that list) or give a
headcount; a household with members still unaccounted for stays open (db/store/visits.py). Reports for
households not on the task, or on a task that was cancelled (解除), change nothing and say so; names
not of the household, or a headcount above its members, are a 400 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.errors import bad_request, not_found
from warnengine.api.routing import STAFF, Op, body, json_out
from warnengine.api.warning_models import WARNING_ID
from warnengine.obs import metrics

TASK_ID = {"type": "string", "pattern": r"^v-[0-9a-f]{20}$"}
HOUSEHOLD_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,32}$"}


class Resident(BaseModel):
    person_id: str
    name: str
    accounted: bool  # 已到人: acknowledged, named by a visitor, evacuated or away


class VisitHousehold(BaseModel):
    household_id: str
    vulnerable: bool
    outcome: str | None
    members: int = Field(description="residents on the register (households.members)")
    accounted: int = Field(description="of them accounted for (到人)")
    people: list[Resident] = Field(description="the named residents, to confirm by name")


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
    persons: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]] | None = Field(
        default=None,
        max_length=50,
        description="person ids of the household's residents the visitor saw (from the visit list)",
    )
    headcount: int | None = Field(
        default=None,
        ge=0,
        description="how many of the household's residents the visitor accounted for in all (names "
        "included); at most the household's members. Without persons or headcount, `reached` and "
        "`refused` account for the whole household",
    )


class VisitRecorded(BaseModel):
    task_id: str
    household_id: str
    outcome: str = Field(description="as recorded: `reached` with residents unaccounted is `nobody_home`")
    persons: int
    persons_accounted: int


async def list_visits(request: web.Request) -> web.Response:
    store = ctx(request).store
    warning_id = request.match_info["warning_id"]
    tasks = await store.visit_tasks(warning_id, ("open", "accepted", "done"))
    who = await store.visit_people(warning_id, sorted({h for t in tasks for h, _, _ in t.households}))
    out = [
        VisitTaskOut(
            task_id=t.task_id,
            village_code=t.village_code,
            group_code=t.group_code,
            assignee=t.assignee,
            level=t.level,
            state=t.state,
            households=[_household(h, v, o, who.get(h)) for h, v, o in t.households],
        )
        for t in tasks
    ]
    return json_out(VisitList(tasks=out))


def _household(
    hid: str, vulnerable: bool, outcome: str | None, who: tuple[int, int, list[tuple[str, str, bool]]] | None
) -> VisitHousehold:
    members, accounted, people = who or (0, 0, [])
    return VisitHousehold(
        household_id=hid,
        vulnerable=vulnerable,
        outcome=outcome,
        members=members,
        accounted=accounted,
        people=[Resident(person_id=p, name=n, accounted=a) for p, n, a in people],
    )


async def _check_persons(request: web.Request, household: str, report: VisitReport) -> list[str] | None:
    """The named persons, once each, all of this household; a headcount within its members. A 400
    naming the field otherwise (recorded in the audit log: nothing is counted)."""
    if report.persons is None and report.headcount is None:
        return None
    found = await ctx(request).store.household_people(household)
    members, named = found if found is not None else (0, [])
    persons = list(dict.fromkeys(report.persons or []))  # a name given twice counts once
    unknown = [p for p in persons if p not in named]
    if unknown:
        await record(request, "visit.report.refused", household, reason="unknown_person", persons=unknown)
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise bad_request(
            "unknown_person",
            f"persons: {', '.join(unknown)} not among household {household}'s residents / 非本户人员",
            "persons",
        )
    if report.headcount is not None and report.headcount > members:
        await record(
            request, "visit.report.refused", household, reason="headcount", headcount=report.headcount
        )
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise bad_request(
            "headcount_too_large",
            f"headcount: {report.headcount} is more than household {household}'s {members} residents "
            "/ 人数超过本户人口",
            "headcount",
        )
    return persons


async def report_visit(request: web.Request) -> web.Response:
    task_id, household = request.match_info["task_id"], request.match_info["household_id"]
    report = body(request, VisitReport)
    store = ctx(request).store
    persons = await _check_persons(request, household, report)
    done = await store.report_visit_persons(
        task_id, household, report.outcome, store.clock.now(), report.note, persons, report.headcount
    )
    if done is None:
        # Kept in the audit log: a report for a door not on the list, or on a closed task, is evidence too.
        where = f"{task_id}/{household}"
        await record(request, "visit.report.refused", where, outcome=report.outcome, reason="not_open")
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise not_found(f"open visit task {task_id} with household {household}")
    await record(
        request,
        "visit.report",
        f"{task_id}/{household}",
        outcome=done.outcome,
        note=report.note,
        persons=persons,
        headcount=report.headcount,
    )
    return json_out(
        VisitRecorded(
            task_id=task_id,
            household_id=household,
            outcome=done.outcome,
            persons=done.persons,
            persons_accounted=done.accounted,
        )
    )


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
        errors=(400, 404),
        path_params={"task_id": TASK_ID, "household_id": HOUSEHOLD_ID},
    ),
]
