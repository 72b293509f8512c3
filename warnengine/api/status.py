"""Live status of a warning, village by village: a snapshot, and the same as Server-Sent Events.

Three measures per village, kept apart because they mean different things:
- `percent` (到户 first): households reached by a person's ack, a visit, or (where the policy says so)
  the loudspeaker. A village with no household on record falls back to its loudspeakers, then to its
  messages. The map's colours, the headline and the unreached list use this: a warning is never shown
  as done while a household is open.
- `terminals_percent` (到村): the village's loudspeakers that played it — the map's second layer.
- messages: SMS/WeChat/app/visit deliveries that reached a handset or a person.
The unreached list is every targeted village not yet at 100 %, from the first second; `open_households`
names the households still open (vulnerable first) with why: no message delivered, no reply, a visit
open with whom, or unreachable with the reason.
"""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import BaseModel

from warnengine.api.context import ApiContext, ctx
from warnengine.api.errors import not_found
from warnengine.api.org_status import OrgStatus, org_status
from warnengine.api.routing import STAFF, Op, json_out
from warnengine.api.sse import stream
from warnengine.api.warning_models import WARNING_ID


class VillageReach(BaseModel):
    code: str
    name: str
    township: str | None
    terminals: int
    terminals_played: int
    messages: int
    messages_reached: int
    failed: int
    households: int
    households_reached: int
    households_needs_help: int = 0  # a visitor reported needs_help: open, handed to the grid head
    households_nobody_home: int = 0  # nobody home at the visit: open, awaiting the revisit
    households_unreachable: int = 0  # named unreachable with the reason: closed, not reached
    percent: float  # 到户, falling back to 到村 (see the module's doc)
    # The loop is closed here: every household reached or named unreachable (the map's green).
    closed: bool = False
    households_percent: float  # 到户
    terminals_percent: float  # 到村: loudspeakers played


class OpenHousehold(BaseModel):
    household_id: str
    village_code: str
    village: str
    vulnerable: bool
    state: str  # targeted | sent | delivered | unreachable
    why: str  # operator-facing, Chinese with English beside it
    reason: str | None
    visit_assignee: str | None
    visit_state: str | None


class WarningStatus(BaseModel):
    warning_id: str
    headline: str | None
    state: str | None  # the console's workflow state (None for a warning from a feed)
    drill: bool
    pipeline_state: str | None  # accepted | resolved | cancelled, once the pipeline has it
    version: int | None
    villages_total: int
    villages_reached: int
    percent: float
    terminals: int
    terminals_played: int
    messages: int
    messages_reached: int
    failed: int
    households: int
    households_reached: int
    households_needs_help: int
    households_nobody_home: int
    households_unreachable: int
    households_percent: float
    terminals_percent: float
    households_open: int  # neither reached nor named unreachable
    # 到人 (issue 17): residents of the targeted households, accounted for (an ack of their own, a visitor's
    # names or headcount, evacuated, away), and the others by reason (db/store/persons.py's REASONS).
    persons: int = 0
    persons_accounted: int = 0
    persons_unaccounted: dict[str, int] = {}
    # resolved, every village closed (households reached or named; else loudspeakers, messages) and every
    # targeted org reached or named unreachable (orgs.open_count == 0)
    done: bool
    villages: list[VillageReach]
    unreached: list[str]
    open_households: list[OpenHousehold]  # at most OPEN_LIMIT, vulnerable first
    orgs: OrgStatus = OrgStatus()  # schools, enterprises… (api/org_status.py)


_SUMS = (
    "terminals",
    "terminals_played",
    "messages",
    "messages_reached",
    "failed",
    "households",
    "households_reached",
    "households_needs_help",
    "households_nobody_home",
    "households_unreachable",
)


OPEN_LIMIT = 200
_WHY = {
    "targeted": "未送达 no message delivered",
    "sent": "未送达 no message delivered",
    "delivered": "未回复 no reply",
}


def _percent(n: int, of: int) -> float:
    return round(100.0 * n / of, 1) if of else 0.0


def _why(h: dict[str, object]) -> str:
    if h["visit_state"]:
        who = h["visit_assignee"] or "未指派 unassigned"
        return f"入户中 visit {h['visit_state']}: {who}"
    if h["state"] == "unreachable":
        return f"无法联系 unreachable: {h['reason'] or '—'}"
    return _WHY.get(str(h["state"]), str(h["state"]))


async def _open_households(
    c: ApiContext, warning_id: str, names: dict[str, tuple[str, str | None]]
) -> list[OpenHousehold]:
    rows = await c.store.open_households(warning_id, OPEN_LIMIT)
    return [
        OpenHousehold(
            household_id=str(h["household_id"]),
            village_code=str(h["village_code"]),
            village=names.get(str(h["village_code"]), (str(h["village_code"]), None))[0],
            vulnerable=bool(h["vulnerable"]),
            state=str(h["state"]),
            why=_why(h),
            reason=h["reason"],
            visit_assignee=h["visit_assignee"],
            visit_state=h["visit_state"],
        )
        for h in rows
    ]


async def snapshot(c: ApiContext, warning_id: str) -> WarningStatus:
    draft = await c.store.get_draft(warning_id)
    pipeline = await c.store.pipeline_warning(warning_id)
    if draft is None and pipeline is None:
        raise not_found(f"warning {warning_id}")
    per = await c.store.village_reach(warning_id)
    names = await c.store.village_names(list(per))
    villages = []
    for code, r in sorted(per.items()):
        name, township = names.get(code, (code, None))
        households_pct = _percent(r["households_reached"], r["households"])
        terminals_pct = _percent(r["terminals_played"], r["terminals"])
        if r["households"]:
            pct = households_pct
        elif r["terminals"]:
            pct = terminals_pct
        else:
            pct = _percent(r["messages_reached"], r["messages"])
        villages.append(
            VillageReach(
                code=code,
                name=name,
                township=township,
                percent=pct,
                households_percent=households_pct,
                terminals_percent=terminals_pct,
                closed=r["households_reached"] + r["households_unreachable"] == r["households"]
                if r["households"]
                else pct >= 100.0,
                **r,
            )
        )
    reached = [v for v in villages if v.percent >= 100.0]
    sums = {k: sum(getattr(v, k) for v in villages) for k in _SUMS}
    households_open = sums["households"] - sums["households_reached"] - sums["households_unreachable"]
    # Cells with neither households nor loudspeakers (a township's or the county's own staff) are 叫应's
    # concern, not 到户: their messages never hold a warning open.
    counted = [v for v in villages if v.households or v.terminals]
    percent = (
        _percent(sums["households_reached"], sums["households"])
        if sums["households"]
        else _percent(len(reached), len(villages))
    )
    orgs = await org_status(c, warning_id)
    status = (draft or {}).get("status") or (pipeline or {}).get("status")
    headline = json.loads(draft["content"])["headline"] if draft else (pipeline or {}).get("event")
    return WarningStatus(
        warning_id=warning_id,
        headline=headline,
        state=draft["state"] if draft else None,
        drill=status == "Exercise",
        pipeline_state=pipeline["state"] if pipeline else None,
        version=pipeline["version"] if pipeline else None,
        villages_total=len(villages),
        villages_reached=len(reached),
        percent=percent,
        **sums,
        households_percent=_percent(sums["households_reached"], sums["households"]),
        terminals_percent=_percent(sums["terminals_played"], sums["terminals"]),
        households_open=households_open,
        **await c.store.persons_tally(warning_id),
        done=bool(counted or orgs.targeted)
        and pipeline is not None
        and households_open == 0
        and orgs.open_count == 0  # an org neither reached nor named unreachable holds it open too
        and all(v.closed for v in counted),
        villages=villages,
        unreached=[v.code for v in villages if v.percent < 100.0],
        open_households=await _open_households(c, warning_id, names),
        orgs=orgs,
    )


async def get_status(request: web.Request) -> web.Response:
    return json_out(await snapshot(ctx(request), request.match_info["warning_id"]))


async def stream_status(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    warning_id = request.match_info["warning_id"]
    first = await snapshot(c, warning_id)  # 404 before the stream starts, as a normal JSON error
    return await stream(request, first, lambda: snapshot(c, warning_id), "status")


ID = {"warning_id": WARNING_ID}
OPS = [
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/status",
        get_status,
        "Reach per village, now",
        "status",
        STAFF,
        response=WarningStatus,
        errors=(404,),
        path_params=ID,
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/events",
        stream_status,
        "Reach per village as Server-Sent Events: `event: status`, data a WarningStatus, sent on change",
        "status",
        STAFF,
        response=WarningStatus,
        content_type="text/event-stream",
        errors=(404,),
        path_params=ID,
    ),
]
