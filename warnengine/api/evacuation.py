"""Evacuation (转移, issue 17) through the API: the live counts of a warning's evacuation per village and per
shelter (over capacity flagged), a visitor's outcome per threatened household, and shelter check-ins.

Outcomes: evacuated (to the shelter or to relatives, with how many persons), refused (a field report, and
the village grid head visits again), needs_help (a field report with the inbox's deadline), away. The same
outcome recorded twice is 409 and counted once. A check-in is one per person (by person id) or one per
household headcount per warning: the second is 409, never a second count.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError, conflict, not_found
from warnengine.api.evacuation_counts import EvacuationStatus, evacuation_status
from warnengine.api.routing import DUTY, STAFF, Op, body, json_out, user
from warnengine.api.visits import HOUSEHOLD_ID
from warnengine.api.warning_models import WARNING_ID
from warnengine.model.evacuation import Destination, EvacOutcome, Shelter

SHELTER_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,32}$"}
PERSON_ID = r"^[A-Za-z0-9_.-]{1,32}$"


class EvacReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["evacuated", "refused", "needs_help", "away"]
    destination: Literal["shelter", "relatives"] | None = None
    persons: int | None = Field(default=None, ge=0, le=1000, description="evacuated: how many (default all)")
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _where(self) -> EvacReport:
        if self.outcome == "evacuated" and self.destination is None:
            self.destination = "shelter"
        if self.outcome != "evacuated" and self.destination is not None:
            raise ValueError("destination is for `evacuated` only")
        return self


class EvacRecorded(BaseModel):
    warning_id: str
    household_id: str
    outcome: str
    destination: str | None


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warning_id: str = Field(max_length=32)
    person_id: str | None = Field(default=None, pattern=PERSON_ID)
    household_id: str | None = Field(default=None, pattern=HOUSEHOLD_ID["pattern"])
    persons: int = Field(default=1, ge=1, le=1000, description="a household headcount (household_id only)")

    @model_validator(mode="after")
    def _one_of(self) -> CheckInIn:
        if (self.person_id is None) == (self.household_id is None):
            raise ValueError("give person_id (one person) or household_id with persons (a headcount)")
        if self.person_id is not None and self.persons != 1:
            raise ValueError("persons is for a household headcount; a person is one")
        return self


class CheckedIn(BaseModel):
    shelter_id: str
    warning_id: str
    person_key: str
    persons: int
    checked_in: int = Field(description="persons checked in at this shelter for this warning, now")
    capacity: int
    over_capacity: bool


async def get_evacuation(request: web.Request) -> web.Response:
    c = ctx(request)
    wid = request.match_info["warning_id"]
    if not await c.store.warning_known(wid):
        raise not_found(f"warning {wid}")
    return json_out(await evacuation_status(c.store, wid))


async def report_evacuation(request: web.Request) -> web.Response:
    c = ctx(request)
    wid, hid = request.match_info["warning_id"], request.match_info["household_id"]
    data = body(request, EvacReport)
    outcome = EvacOutcome(data.outcome)
    dest = Destination(data.destination).value if data.destination else None
    done = await c.store.record_evacuation(
        wid, hid, outcome, dest, data.persons, user(request).username, data.note, c.store.clock.now()
    )
    if done == "missing":
        raise not_found(f"household {hid} ordered to evacuate by warning {wid}")
    if done == "same":
        raise conflict("already_recorded", f"{hid}: {data.outcome} is recorded already (已记录)")
    await record(request, "evacuation.report", f"{wid}/{hid}", outcome=data.outcome, destination=dest)
    return json_out(EvacRecorded(warning_id=wid, household_id=hid, outcome=outcome.value, destination=dest))


async def check_in(request: web.Request) -> web.Response:
    c = ctx(request)
    sid = request.match_info["shelter_id"]
    data = body(request, CheckInIn)
    shelter = next((s for s in await c.store.shelters() if s.shelter_id == sid), None)
    if shelter is None:
        raise not_found(f"shelter {sid}")
    await _may_check_in(request, shelter)
    if not await c.store.warning_known(data.warning_id):
        raise ApiError(422, "unknown_warning", f"warning_id: {data.warning_id} is not known", "warning_id")
    household = data.household_id
    if data.person_id is not None:
        known, household = await c.store.person_household(data.person_id)
        if not known:
            raise ApiError(
                422, "unknown_person", f"person_id: {data.person_id} is not in the directory", "person_id"
            )
        key = data.person_id
    else:
        assert household is not None
        if await c.store.household_village(household) is None:
            raise ApiError(
                422, "unknown_household", f"household_id: {household} is not in the directory", "household_id"
            )
        key = f"household:{household}"
    now = c.store.clock.now()
    done = await c.store.check_in(
        data.warning_id, sid, key, household, data.persons, user(request).username, now
    )
    if done == "already":
        raise conflict("already_checked_in", f"{key} is checked in already for this warning (已登记)")
    total = (await c.store.checked_in(data.warning_id)).get(sid, 0)
    await record(request, "shelter.checkin", f"{sid}/{key}", warning_id=data.warning_id, persons=data.persons)
    out = CheckedIn(
        shelter_id=sid,
        warning_id=data.warning_id,
        person_key=key,
        persons=data.persons,
        checked_in=total,
        capacity=shelter.capacity,
        over_capacity=total > shelter.capacity,
    )
    return json_out(out, status=201)


async def _may_check_in(request: web.Request, shelter: Shelter) -> None:
    """The duty room checks in anywhere; anyone else only at the shelter they keep (their account's person,
    PUT /api/v1/users/{username}/person, is the shelter's keeper_person_id)."""
    who = user(request)
    if who.role in DUTY:
        return
    person = await ctx(request).store.account_person(who.username)
    if person is None or person != shelter.keeper_person_id:
        raise ApiError(
            403,
            "not_keeper",
            f"只有该安置点管理员或值班人员可登记 / only shelter {shelter.shelter_id}'s keeper or duty staff "
            f"may check people in here (your account is {'person ' + person if person else 'no person'})",
            "shelter_id",
        )


OPS = [
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/evacuation",
        get_evacuation,
        "Evacuation (转移) live counts: threatened / evacuated / checked in per village and per shelter",
        "evacuation",
        STAFF,
        response=EvacuationStatus,
        errors=(404,),
        path_params={"warning_id": WARNING_ID},
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/evacuation/households/{household_id}",
        report_evacuation,
        "A visitor's evacuation outcome for a threatened household",
        "evacuation",
        STAFF,
        body=EvacReport,
        response=EvacRecorded,
        errors=(404, 409),
        path_params={"warning_id": WARNING_ID, "household_id": HOUSEHOLD_ID},
    ),
    Op(
        "POST",
        "/api/v1/shelters/{shelter_id}/checkins",
        check_in,
        "A shelter keeper (their own shelter) or duty staff checks a person or a household's headcount in; "
        "once per warning",
        "evacuation",
        STAFF,
        body=CheckInIn,
        response=CheckedIn,
        status=201,
        errors=(403, 404, 409, 422),
        path_params={"shelter_id": SHELTER_ID},
    ),
]
