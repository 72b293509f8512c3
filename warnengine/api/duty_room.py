"""The duty room (值班室) in the console: the pre-flight list for the whole county, and per warning the 叫应
calls made (who was silent, who was called on which post, how many times) with each call's and message's
outcome, and the upward reports (上报) sent. The roster itself is api/duty.py.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel

from warnengine.api.context import ctx
from warnengine.api.errors import not_found
from warnengine.api.preview import Unreachable
from warnengine.api.routing import STAFF, Op, json_out
from warnengine.api.warning_models import WARNING_ID
from warnengine.model import steps
from warnengine.model.duty import stamp

CALL_STEP = steps.CALL.start  # 叫应 messages and calls are this step and above (model/steps.py)


class Preflight(BaseModel):
    unreachable: list[Unreachable]
    unreachable_count: int


class Call(BaseModel):
    person_id: str  # the silent person
    target_id: str  # who was called about them
    rung: int
    cell_code: str
    post: str | None
    tries: int
    called_at: str
    answered: bool  # the target acknowledged a 叫应 of this warning


class Attempt(BaseModel):
    delivery_id: str
    person_id: str | None
    channel: str
    kind: str  # 叫应 call | upward report | closure report
    state: str
    reason: str | None
    attempts: int
    at: str
    acked_at: str | None


class Report(BaseModel):
    cell_code: str
    kind: str
    due_min: int
    persons: int
    text: str
    sent_at: str


class CallLog(BaseModel):
    warning_id: str
    calls: list[Call]
    attempts: list[Attempt]
    reports: list[Report]


async def preflight(request: web.Request) -> web.Response:
    from warnengine.api.preview import _planner_inputs  # the workers' directory, reloaded once a minute
    from warnengine.plan.preflight import unreachable_staff

    directory, _ = await _planner_inputs(ctx(request))
    shown, count = unreachable_staff(directory, list(directory.cells))
    return json_out(
        Preflight(unreachable=[Unreachable.model_validate(u) for u in shown], unreachable_count=count)
    )


_LABELS = {
    steps.REPORT.kind: "upward report / 上报",
    steps.CLOSURE.kind: "closure report / 闭环上报",
    steps.EVACUATE.kind: "evacuation order / 转移通知",
    steps.FALLBACK.kind: "visit list / 入户名单",
    steps.HELPER.kind: "helper / 包保叫应",
    steps.POINT.kind: "point lead / 点长任务",
    steps.INBOX.kind: "field report overdue / 灾情未接",
    steps.EVAC_VISIT.kind: "second visit / 二次动员",
    steps.FOLLOW.kind: "follow-up / 复访",
}


def _kind(step: int) -> str:
    """The log's label for a step number: its kind in the one table (model/steps.py)."""
    return _LABELS.get(steps.kind_of(step), "叫应")


async def call_log(request: web.Request) -> web.Response:
    c = ctx(request)
    warning_id = request.match_info["warning_id"]
    if await c.store.pipeline_warning(warning_id) is None:
        raise not_found(f"warning {warning_id} (in the pipeline's record)")
    tz = ZoneInfo(c.settings.time_zone)
    calls = await c.store.duty_calls(warning_id)
    answered = await c.store.answered(warning_id, sorted({x.target_id for x in calls}), CALL_STEP)
    rows: list[dict[str, Any]] = await c.store.staff_messages(warning_id, CALL_STEP)
    return json_out(
        CallLog(
            warning_id=warning_id,
            calls=[
                Call(
                    person_id=x.person_id,
                    target_id=x.target_id,
                    rung=x.rung,
                    cell_code=x.cell_code,
                    post=x.post,
                    tries=x.tries,
                    called_at=stamp(x.called_at, tz),
                    answered=x.target_id in answered,
                )
                for x in calls
            ],
            attempts=[
                Attempt(
                    delivery_id=r["delivery_id"],
                    person_id=r["person_id"],
                    channel=r["channel"],
                    kind=_kind(int(r["step"])),
                    state=r["state"],
                    reason=r["reason"],
                    attempts=int(r["attempts"]),
                    at=stamp(float(r["created_at"]), tz),
                    acked_at=None if r["acked_at"] is None else stamp(float(r["acked_at"]), tz),
                )
                for r in rows
            ],
            reports=[
                Report(
                    cell_code=r["cell_code"],
                    kind=r["kind"],
                    due_min=int(r["due_min"]),
                    persons=int(r["persons"]),
                    text=r["text"],
                    sent_at=stamp(float(r["sent_at"]), tz),
                )
                for r in await c.store.upward_reports(warning_id)
            ],
        )
    )


OPS = [
    Op(
        "GET",
        "/api/v1/duty/preflight",
        preflight,
        "Pre-flight for the whole county: responsible persons no call can reach (no phone on record)",
        "directory",
        STAFF,
        response=Preflight,
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/calls",
        call_log,
        "The duty room's log of a warning: 叫应 calls (who, about whom, post, tries, answered), each call's "
        "and message's outcome, and the upward reports sent",
        "status",
        STAFF,
        response=CallLog,
        errors=(404,),
        path_params={"warning_id": WARNING_ID},
    ),
]
