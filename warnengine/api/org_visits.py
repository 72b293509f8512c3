"""A visitor's word on an organisation (issue 17, review): the ladder's visit step sends someone to each
silent org (escalate/orgs.py); here they confirm it the way a household is confirmed on a visit —
`reached` (the responsible person told in person; the note is the evidence, "830名学生留在室内"), or
`unreachable` with the reason (closed for the day, nobody there). Either closes the org for live status
and the closure report. An org the warning did not target is a 404; the same word again, or any word on an
org already reached, changes nothing and says so (`recorded: false`)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.errors import bad_request, not_found
from warnengine.api.routing import STAFF, Op, body, json_out
from warnengine.api.warning_models import WARNING_ID
from warnengine.obs import metrics

ORG_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,32}$"}


class OrgVisit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "unreachable"]
    note: str | None = Field(
        default=None,
        max_length=500,
        description="what the responsible person said (reached), or why nobody can be reached (required "
        "for unreachable)",
    )


class OrgVisitRecorded(BaseModel):
    warning_id: str
    org_id: str
    outcome: str
    recorded: bool = Field(description="false: already reached, or already so; nothing counted twice")


async def confirm_org(request: web.Request) -> web.Response:
    warning_id, org_id = request.match_info["warning_id"], request.match_info["org_id"]
    visit = body(request, OrgVisit)
    where = f"{warning_id}/{org_id}"
    if visit.outcome == "unreachable" and not (visit.note or "").strip():
        await record(request, "org.visit.refused", where, reason="no_reason")
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise bad_request("reason_required", "note: say why the org cannot be reached / 请说明原因", "note")
    store = ctx(request).store
    done = await store.confirm_org(warning_id, org_id, visit.outcome, visit.note, store.clock.now())
    if done == "missing":
        await record(request, "org.visit.refused", where, outcome=visit.outcome, reason="not_targeted")
        metrics.VISIT_REPORTS_REFUSED.inc()
        raise not_found(f"organisation {org_id} of warning {warning_id}")
    await record(request, "org.visit", where, outcome=visit.outcome, note=visit.note, result=done)
    return json_out(
        OrgVisitRecorded(
            warning_id=warning_id, org_id=org_id, outcome=visit.outcome, recorded=done == "recorded"
        )
    )


OPS = [
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/orgs/{org_id}/visit",
        confirm_org,
        "A visitor's outcome for one organisation of a warning (reached in person, or unreachable with why)",
        "visits",
        STAFF,
        body=OrgVisit,
        response=OrgVisitRecorded,
        errors=(400, 404),
        path_params={"warning_id": WARNING_ID, "org_id": ORG_ID},
    ),
]
