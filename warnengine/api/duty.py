"""The duty roster (值班表) over the API: who is on duty now, a cell's roster, and replacing it.

A replaced roster is checked row by row like `warnengine duty import` (unknown person or cell, post,
inverted or overlapping shifts, a gap in post A): any problem → 400 listing every row, nothing changed.
Times are ISO 8601; one without an offset is in the county's time zone (setting `time_zone`).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.directory import CODE
from warnengine.api.errors import bad_request, not_found
from warnengine.api.routing import ISSUERS, STAFF, Op, body, json_out, query
from warnengine.directory.parse import Problem
from warnengine.directory.parse.duty import DUTY_FIELDS, parse_time, read_duty
from warnengine.directory.parse.tables import Table
from warnengine.model.duty import stamp


class DutyQuery(BaseModel):
    cell: str | None = Field(default=None, pattern="^[0-9]{6,15}$")
    at: str | None = Field(default=None, max_length=40, description="ISO 8601; default now")


class Holder(BaseModel):
    person_id: str
    role: str
    until: str


class DutyNow(BaseModel):
    at: str
    cells: dict[str, dict[str, list[Holder]]]  # cell → post (A, B, deputy) → holders
    gaps: list[str]  # rostered cells with nobody on duty


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=32)
    post: str = Field(max_length=16)
    person_id: str = Field(min_length=1, max_length=32)
    start: str = Field(max_length=40)
    end: str = Field(max_length=40)


class ShiftOut(ShiftIn):
    cell_code: str


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shifts: list[ShiftIn] = Field(max_length=2000)


class Roster(BaseModel):
    cell_code: str
    shifts: list[ShiftOut]


async def duty_now(request: web.Request) -> web.Response:
    q = query(request, DutyQuery)
    c = ctx(request)
    tz = ZoneInfo(c.settings.time_zone)
    at = c.store.clock.now() if q.at is None else parse_time(q.at, tz)
    if at is None:
        raise bad_request("bad_time", f"not a time: {q.at!r} (ISO 8601, 2026-06-01T20:00)", "at")
    board = await c.store.duty_board(at)
    cells = [q.cell] if q.cell else sorted(board.rostered)
    return json_out(DutyNow.model_validate(board.report(cells, at, tz)))


async def _roster(request: web.Request, code: str) -> Roster:
    c = ctx(request)
    tz = ZoneInfo(c.settings.time_zone)
    shifts = [
        ShiftOut(
            cell_code=s.cell_code,
            role=s.role.value,
            post=s.post.value,
            person_id=s.person_id,
            start=stamp(s.start, tz),
            end=stamp(s.end, tz),
        )
        for s in await c.store.roster(code)
    ]
    return Roster(cell_code=code, shifts=shifts)


async def get_roster(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if await ctx(request).store.cell(code) is None:
        raise not_found(f"cell {code}")
    return json_out(await _roster(request, code))


async def put_roster(request: web.Request) -> web.Response:
    b = body(request, RosterIn)
    c = ctx(request)
    code = request.match_info["code"]
    levels, people = await c.store.duty_refs()
    if code not in levels:
        raise not_found(f"cell {code}")
    name = "shifts"
    rows = iter(
        [(i, [code, s.role, s.post, s.person_id, s.start, s.end]) for i, s in enumerate(b.shifts, start=1)]
    )
    problems: list[Problem] = []
    shifts = read_duty(
        Table(name, DUTY_FIELDS, rows), levels, people, ZoneInfo(c.settings.time_zone), problems
    )
    if problems:
        listed = "; ".join(f"shifts[{p.line - 1}] {p.column}: {p.message}" for p in problems[:50])
        raise bad_request("roster_invalid", f"{len(problems)} problem(s), nothing changed: {listed}")
    await c.store.replace_roster(shifts, [code], actor=None)
    await record(request, "duty.replace", code, shifts=len(shifts))
    return json_out(await _roster(request, code))


OPS = [
    Op(
        "GET",
        "/api/v1/duty",
        duty_now,
        "Who holds each post (A, B, deputy) now, per rostered cell; and the cells with nobody on duty",
        "directory",
        STAFF,
        query=DutyQuery,
        response=DutyNow,
    ),
    Op(
        "GET",
        "/api/v1/duty/cells/{code}",
        get_roster,
        "A cell's duty roster (值班表)",
        "directory",
        STAFF,
        response=Roster,
        errors=(404,),
        path_params={"code": CODE},
    ),
    Op(
        "PUT",
        "/api/v1/duty/cells/{code}",
        put_roster,
        "Replace a cell's duty roster; every bad row is listed, nothing half-changed",
        "directory",
        ISSUERS,
        body=RosterIn,
        response=Roster,
        errors=(404,),
        path_params={"code": CODE},
    ),
]
