"""The field-report inbox (灾情报送 and requests for help, issue 17): list, live stream, post, take, close.

Reports come from visits, replies and whereabouts unknown (opened by the engine) and from grid staff here.
Each must be taken (认领) by a duty person within the policy's `report_take_min` (the sweep 叫应s the
county duty otherwise) — taking and closing are for the duty room (DUTY: dispatcher, approver, admin), not
grid staff, who report; taking is once only (409 to a second taker, naming who has it); a taken report is
closed as handled (处置) or forwarded (转报, the note says to whom). Every step is in the audit log.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from warnengine.api.audit import record
from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import Text
from warnengine.api.errors import ApiError, conflict, not_found
from warnengine.api.preview import _planner_inputs
from warnengine.api.report_photos import TYPES, PhotoAdded, add_field_report_photo_op, get_field_report_photo
from warnengine.api.routing import DUTY, STAFF, Op, body, json_out, query, user
from warnengine.api.sse import stream
from warnengine.api.visits import HOUSEHOLD_ID
from warnengine.model.field_report import FieldReport, ReportKind, ReportSource, ReportState, report_id

REPORT_ID = {"type": "string", "pattern": r"^fr-[0-9a-f]{20}$"}
SHA256 = {"type": "string", "pattern": r"^[0-9a-f]{64}$"}
StaffKind = Literal["disaster", "needs_help", "refused", "point_report", "other"]


class FieldReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: StaffKind
    text: Text = Field(min_length=1, max_length=2000)
    household_id: str | None = Field(default=None, pattern=HOUSEHOLD_ID["pattern"])
    warning_id: str | None = Field(default=None, max_length=32)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)

    @model_validator(mode="after")
    def _both_or_neither(self) -> FieldReportIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat go together (a location is both)")
        return self


class FieldReportOut(BaseModel):
    report_id: str
    source: str
    kind: str
    state: str
    text: str
    created_at: float
    due_at: float = Field(description="taken by then, or the county duty is 叫应'd")
    overdue: bool
    warning_id: str | None
    village_code: str | None
    household_id: str | None
    reporter: str | None
    lon: float | None
    lat: float | None
    taken_by: str | None
    taken_at: float | None
    closed_by: str | None
    closed_at: float | None
    outcome_note: str | None
    calls: int = Field(description="叫应 of the county duty made because nobody took it in time")
    photos: list[str] = Field(description="sha256 of each photo: GET /api/v1/field-reports/photos/{sha256}")


class FieldReportList(BaseModel):
    open: int
    overdue: int
    reports: list[FieldReportOut]


class InboxQuery(BaseModel):
    state: Literal["open", "taken", "handled", "forwarded"] | None = None
    warning_id: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=200, ge=1, le=1000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["handled", "forwarded"]
    note: Text | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _forwarded_to_whom(self) -> CloseIn:
        if self.outcome == "forwarded" and not (self.note or "").strip():
            raise ValueError("a forwarded report's note says to whom (转报给谁)")
        return self


def _out(r: FieldReport, take_s: float, now: float) -> FieldReportOut:
    due = r.created_at + take_s
    return FieldReportOut(
        **{k: getattr(r, k) for k in FieldReportOut.model_fields if k not in ("due_at", "overdue", "photos")},
        due_at=due,
        overdue=r.state is ReportState.OPEN and now >= due,
        photos=list(r.photos),
    )


async def _take_s(c: ApiContext) -> float:
    _, policy = await _planner_inputs(c)
    return float(policy.report_take_min) * 60


async def inbox(c: ApiContext, q: InboxQuery | None = None) -> FieldReportList:
    q = q or InboxQuery()
    take_s, now = await _take_s(c), c.store.clock.now()
    states = (q.state,) if q.state else ()
    reports = [_out(r, take_s, now) for r in await c.store.field_reports(states, q.limit, q.warning_id)]
    # Open first (oldest deadline on top), then the rest newest first.
    reports.sort(key=lambda r: (r.state != "open", r.due_at if r.state == "open" else -r.created_at))
    return FieldReportList(
        open=await c.store.open_field_report_count(),
        overdue=sum(1 for r in reports if r.overdue),
        reports=reports,
    )


async def list_field_reports(request: web.Request) -> web.Response:
    return json_out(await inbox(ctx(request), query(request, InboxQuery)))


async def stream_field_reports(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    return await stream(request, await inbox(c), lambda: inbox(c), "inbox")


async def post_field_report(request: web.Request) -> web.Response:
    c = ctx(request)
    data, who, now = body(request, FieldReportIn), user(request).username, c.store.clock.now()
    village = None
    if data.household_id is not None:
        village = await c.store.household_village(data.household_id)
        if village is None:
            raise ApiError(
                422,
                "unknown_household",
                f"household_id: {data.household_id} is not in the directory",
                "household_id",
            )
    if data.warning_id is not None and not await c.store.warning_known(data.warning_id):
        raise ApiError(422, "unknown_warning", f"warning_id: {data.warning_id} is not known", "warning_id")
    report = FieldReport(
        report_id=report_id("staff", who, now, data.kind, data.text, data.household_id),
        source=ReportSource.STAFF,
        kind=ReportKind(data.kind),
        state=ReportState.OPEN,
        created_at=now,
        text=data.text,
        warning_id=data.warning_id,
        village_code=village,
        household_id=data.household_id,
        reporter=who,
        lon=data.lon,
        lat=data.lat,
    )
    await c.store.open_field_reports([report])
    await record(
        request, "field_report.create", report.report_id, kind=data.kind, household=data.household_id
    )
    return json_out(_out(report, await _take_s(c), now), status=201)


async def get_field_report(request: web.Request) -> web.Response:
    c = ctx(request)
    rid = request.match_info["report_id"]
    r = await c.store.field_report(rid)
    if r is None:
        raise not_found(f"field report {rid}")
    return json_out(_out(r, await _take_s(c), c.store.clock.now()))


async def take_field_report_op(request: web.Request) -> web.Response:
    c = ctx(request)
    rid, who, now = request.match_info["report_id"], user(request).username, c.store.clock.now()
    done = await c.store.take_field_report(rid, who, now)
    if done == "missing":
        raise not_found(f"field report {rid}")
    if done == "already":
        r = await c.store.field_report(rid)
        holder = r.taken_by if r else None
        await record(request, "field_report.take.refused", rid, held_by=holder)
        raise conflict("already_taken", f"field report {rid} was taken already by {holder} (已被认领)")
    await record(request, "field_report.take", rid)
    return await get_field_report(request)


async def close_field_report_op(request: web.Request) -> web.Response:
    c = ctx(request)
    rid, who, now = request.match_info["report_id"], user(request).username, c.store.clock.now()
    data = body(request, CloseIn)
    done = await c.store.close_field_report(rid, who, ReportState(data.outcome), data.note, now)
    if done == "missing":
        raise not_found(f"field report {rid}")
    if done == "not_taken":
        raise conflict(
            "not_taken", f"field report {rid} is not taken (open or closed already): take it first"
        )
    await record(request, f"field_report.{data.outcome}", rid, note=data.note)
    return await get_field_report(request)


RID = {"report_id": REPORT_ID}
OPS = [
    Op(
        "GET",
        "/api/v1/field-reports",
        list_field_reports,
        "The field-report inbox: open first, by deadline",
        "field-reports",
        STAFF,
        query=InboxQuery,
        response=FieldReportList,
    ),
    Op(
        "GET",
        "/api/v1/field-reports/events",
        stream_field_reports,
        "The inbox as Server-Sent Events: `event: inbox`, data a FieldReportList, sent on change",
        "field-reports",
        STAFF,
        response=FieldReportList,
        content_type="text/event-stream",
    ),
    Op(
        "POST",
        "/api/v1/field-reports",
        post_field_report,
        "Grid staff report 灾情 or a request for help",
        "field-reports",
        STAFF,
        body=FieldReportIn,
        response=FieldReportOut,
        status=201,
        errors=(422,),
    ),
    Op(
        "GET",
        "/api/v1/field-reports/{report_id}",
        get_field_report,
        "One field report",
        "field-reports",
        STAFF,
        response=FieldReportOut,
        errors=(404,),
        path_params=RID,
    ),
    Op(
        "POST",
        "/api/v1/field-reports/{report_id}/take",
        take_field_report_op,
        "Take (认领) an open report; a second taker gets 409",
        "field-reports",
        DUTY,
        response=FieldReportOut,
        errors=(404, 409),
        path_params=RID,
    ),
    Op(
        "POST",
        "/api/v1/field-reports/{report_id}/close",
        close_field_report_op,
        "Close a taken report: handled, or forwarded (the note says to whom)",
        "field-reports",
        DUTY,
        body=CloseIn,
        response=FieldReportOut,
        errors=(404, 409),
        path_params=RID,
    ),
    Op(
        "POST",
        "/api/v1/field-reports/{report_id}/photos",
        add_field_report_photo_op,
        f"Add a photo: the body is the image ({', '.join(TYPES)}), checked by its bytes",
        "field-reports",
        STAFF,
        response=PhotoAdded,
        status=201,
        errors=(404, 409, 413, 415),
        path_params=RID,
    ),
    Op(
        "GET",
        "/api/v1/field-reports/photos/{sha256}",
        get_field_report_photo,
        "A report's photo, as it was posted",
        "field-reports",
        STAFF,
        response={"type": "string", "format": "binary"},
        content_type="image/*",
        errors=(404,),
        path_params={"sha256": SHA256},
    ),
]
