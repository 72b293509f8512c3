"""A dispatcher's warning: draft → submit → approve/reject → release → update → cancel.

制作 → 审核 → 签发 → 发布.

Two people: the approver must be neither the author nor the submitter. The only exception is the emergency
fast path (config/approval.yaml), which is audited as such. Every transition is a compare-and-set on
(state, revision), so an approver approves exactly the revision they read, and two people pressing at once
cannot both win. A release puts one generic-JSON feed message on the manual topic; nothing else reaches a
recipient.

This module: composing and editing drafts, and every route of the warnings API. The workflow steps are in
warning_workflow.py, release and cancel in warning_release.py, reading and moving the stored warning in
warning_state.py.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from warnengine.api import audit
from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import COMPOSE_FIELDS, SENDER, Compose, from_cap
from warnengine.api.errors import bad_request, from_validation
from warnengine.api.routing import APPROVERS, ISSUERS, STAFF, Op, body, json_out, query, user
from warnengine.api.warning_models import (
    EDITABLE,
    RELEASERS,
    WARNING_ID,
    DraftIn,
    DraftList,
    DraftOut,
    DraftPatch,
    ListQuery,
    Reason,
    Step,
    TemplateList,
    TemplateOut,
)
from warnengine.api.warning_release import cancel_warning, release_warning
from warnengine.api.warning_state import draft_out, load_draft, move, now_utc, respond
from warnengine.api.warning_summary import summarise
from warnengine.api.warning_workflow import approve_warning, reject_warning, submit_warning
from warnengine.model.warning import chain_id
from warnengine.obs import metrics


def _compose(c: ApiContext, b: DraftIn, base: dict[str, Any]) -> Compose:
    start: dict[str, Any] = dict(base)
    if b.template is not None:
        found = next((t for t in c.templates if t["name"] == b.template), None)
        if found is None:
            raise bad_request("unknown_template", f"no template named {b.template!r}", "template")
        start.update({k: v for k, v in found.items() if k != "name"})
    if b.cap is not None:
        from warnengine.normalise.errors import FeedError

        try:
            start.update(from_cap(b.cap, now_utc(c)))
        except FeedError as e:
            raise bad_request("invalid_cap", str(e), "cap") from e
    start.update({k: getattr(b, k) for k in b.model_fields_set if k in COMPOSE_FIELDS})
    try:
        return Compose.model_validate(start)
    except ValidationError as e:
        raise from_validation(e) from e


async def create_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, DraftIn)
    content = _compose(c, b, {})
    now = now_utc(c)
    # Unique without coordination: time for people reading the record, randomness for a double-press.
    identifier = f"api-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    warning_id = chain_id(SENDER, identifier)
    u = user(request)
    await c.store.add_draft(
        {
            "warning_id": warning_id,
            "sender": SENDER,
            "identifier": identifier,
            "state": "draft",
            "revision": 1,
            "status": "Exercise" if content.drill else "Actual",
            "hazard": content.hazard.value,
            "severity": content.severity.value,
            "content": content.model_dump_json(),
            "released_refs": "[]",
            "released_version": 0,
            "created_by": u.username,
            "fast_path": False,
            "created_at": c.store.clock.now(),
            "updated_at": c.store.clock.now(),
        }
    )
    metrics.API_WARNING_ACTIONS.labels("create").inc()
    await audit.record(
        request,
        "warning.create",
        warning_id,
        drill=content.drill,
        hazard=content.hazard.value,
        severity=content.severity.value,
        template=b.template,
        from_cap=b.cap is not None,
    )
    return await respond(request, warning_id, 201)


async def list_warnings(request: web.Request) -> web.Response:
    q = query(request, ListQuery)
    c = ctx(request)
    rows = await c.store.list_drafts([q.state] if q.state else None, q.limit)
    out = []
    for r in rows:
        d = draft_out(r)
        d.summary = await summarise(c, r)
        out.append(d)
    return json_out(DraftList(warnings=out))


async def get_warning(request: web.Request) -> web.Response:
    return await respond(request, request.match_info["warning_id"])


async def edit_warning(request: web.Request) -> web.Response:
    """Edit a draft, or update a released warning: either way it goes back to draft and needs approval."""
    c = ctx(request)
    b = body(request, DraftPatch)
    row = await load_draft(c, request.match_info["warning_id"])
    content = _compose(c, b, json.loads(row["content"]))
    if row["released_version"] and content.drill != (row["status"] == "Exercise"):
        raise bad_request("drill_fixed", "a released warning cannot switch between drill and real", "drill")
    await move(
        request,
        row,
        revision=b.revision,
        allowed=EDITABLE,
        action="edit",
        values={
            "state": "draft",
            "revision": b.revision + 1,
            "content": content.model_dump_json(),
            "status": "Exercise" if content.drill else "Actual",
            "hazard": content.hazard.value,
            "severity": content.severity.value,
            "submitted_by": None,
            "approved_by": None,
        },
    )
    action = "update" if row["released_version"] else "edit"
    metrics.API_WARNING_ACTIONS.labels(action).inc()
    await audit.record(request, f"warning.{action}", row["warning_id"], revision=b.revision + 1)
    return await respond(request, row["warning_id"])


async def list_templates(request: web.Request) -> web.Response:
    return json_out(TemplateList(templates=[TemplateOut(**t) for t in ctx(request).templates]))


ID = {"warning_id": WARNING_ID}
OPS = [
    Op(
        "GET",
        "/api/v1/templates",
        list_templates,
        "Warning templates to start a draft from",
        "warnings",
        STAFF,
        response=TemplateList,
    ),
    Op(
        "POST",
        "/api/v1/warnings",
        create_warning,
        "Create a draft (from fields, a template or a CAP message)",
        "warnings",
        ISSUERS,
        body=DraftIn,
        response=DraftOut,
        status=201,
    ),
    Op(
        "GET",
        "/api/v1/warnings",
        list_warnings,
        "Dispatchers' warnings, newest first",
        "warnings",
        STAFF,
        query=ListQuery,
        response=DraftList,
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}",
        get_warning,
        "One warning with its approvals",
        "warnings",
        STAFF,
        response=DraftOut,
        errors=(404,),
        path_params=ID,
    ),
    Op(
        "PATCH",
        "/api/v1/warnings/{warning_id}",
        edit_warning,
        "Edit a draft, or update a released warning (back to draft: needs approval again)",
        "warnings",
        ISSUERS,
        body=DraftPatch,
        response=DraftOut,
        errors=(404, 409),
        path_params=ID,
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/submit",
        submit_warning,
        "Submit for approval",
        "warnings",
        ISSUERS,
        body=Step,
        response=DraftOut,
        errors=(404, 409),
        path_params=ID,
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/approve",
        approve_warning,
        "Approve (not one's own: 403 self_approval)",
        "warnings",
        APPROVERS,
        body=Step,
        response=DraftOut,
        errors=(404, 409),
        path_params=ID,
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/reject",
        reject_warning,
        "Reject with a reason",
        "warnings",
        APPROVERS,
        body=Reason,
        response=DraftOut,
        errors=(404, 409),
        path_params=ID,
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/release",
        release_warning,
        "Release an approved warning (or a submitted one on the emergency fast path)",
        "warnings",
        RELEASERS,
        body=Step,
        response=DraftOut,
        errors=(404, 409, 503),
        path_params=ID,
    ),
    Op(
        "POST",
        "/api/v1/warnings/{warning_id}/cancel",
        cancel_warning,
        "Cancel (a live warning is stopped at once with a Cancel message)",
        "warnings",
        RELEASERS,
        body=Reason,
        response=DraftOut,
        errors=(404, 409, 503),
        path_params=ID,
    ),
]
