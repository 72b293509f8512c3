"""A dispatcher's warning: draft → submit → approve/reject → release → update → cancel.

制作 → 审核 → 签发 → 发布.

Two people: the approver must be neither the author nor the submitter. The only exception is the emergency
fast path (config/approval.yaml), which is audited as such. Every transition is a compare-and-set on
(state, revision), so an approver approves exactly the revision they read, and two people pressing at once
cannot both win. A release puts one generic-JSON feed message on the manual topic; nothing else reaches a
recipient.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from warnengine.api import audit
from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import COMPOSE_FIELDS, SENDER, Compose, feed_message, from_cap
from warnengine.api.errors import ApiError, bad_request, conflict, from_validation, not_found
from warnengine.api.routing import APPROVERS, ISSUERS, STAFF, Op, body, json_out, query, user
from warnengine.api.warning_models import (
    EDITABLE,
    RELEASERS,
    WARNING_ID,
    Approval,
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
from warnengine.model import Hazard, MsgType, Severity
from warnengine.model.warning import chain_id
from warnengine.obs import log as obslog
from warnengine.obs import metrics
from warnengine.wire import topics

log = obslog.get("warnengine.api.warnings")


def _out(row: dict[str, Any], approvals: list[dict[str, Any]] | None = None) -> DraftOut:
    return DraftOut(
        **{k: row[k] for k in DraftOut.model_fields if k in row and k not in ("content", "approvals")},
        drill=row["status"] == "Exercise",
        content=Compose.model_validate_json(row["content"]),
        live=row["released_version"] > 0 and row["state"] != "cancelled",
        approvals=[Approval(**a) for a in approvals or []],
    )


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
            start.update(from_cap(b.cap, _now(c)))
        except FeedError as e:
            raise bad_request("invalid_cap", str(e), "cap") from e
    start.update({k: getattr(b, k) for k in b.model_fields_set if k in COMPOSE_FIELDS})
    try:
        return Compose.model_validate(start)
    except ValidationError as e:
        raise from_validation(e) from e


def _now(c: ApiContext) -> datetime:
    return datetime.fromtimestamp(c.store.clock.now(), UTC)


async def _draft(c: ApiContext, warning_id: str) -> dict[str, Any]:
    row = await c.store.get_draft(warning_id)
    if row is None:
        raise not_found(f"warning {warning_id}")
    return row


def _stale(row: dict[str, Any], revision: int, allowed: tuple[str, ...], action: str) -> ApiError:
    if row["revision"] != revision:
        return conflict("stale_revision", f"the warning is at revision {row['revision']}, not {revision}")
    return conflict(
        "wrong_state", f"cannot {action} a warning that is {row['state']} (needs {'/'.join(allowed)})"
    )


async def _move(
    request: web.Request,
    row: dict[str, Any],
    *,
    revision: int,
    allowed: tuple[str, ...],
    action: str,
    values: dict[str, Any],
    approval: dict[str, Any] | None = None,
) -> None:
    c = ctx(request)
    if row["state"] not in allowed or row["revision"] != revision:
        raise _stale(row, revision, allowed, action)
    ok = await c.store.move_draft(
        row["warning_id"], from_states=allowed, revision=revision, values=values, approval=approval
    )
    if not ok:  # someone else moved it between our read and our write
        raise _stale(await _draft(c, row["warning_id"]), revision, allowed, action)


async def _respond(request: web.Request, warning_id: str, status: int = 200) -> web.Response:
    c = ctx(request)
    row = await _draft(c, warning_id)
    return json_out(_out(row, await c.store.approvals(warning_id)), status)


# -- operations -------------------------------------------------------------------------------------------


async def create_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, DraftIn)
    content = _compose(c, b, {})
    now = _now(c)
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
    return await _respond(request, warning_id, 201)


async def list_warnings(request: web.Request) -> web.Response:
    q = query(request, ListQuery)
    rows = await ctx(request).store.list_drafts([q.state] if q.state else None, q.limit)
    return json_out(DraftList(warnings=[_out(r) for r in rows]))


async def get_warning(request: web.Request) -> web.Response:
    return await _respond(request, request.match_info["warning_id"])


async def edit_warning(request: web.Request) -> web.Response:
    """Edit a draft, or update a released warning: either way it goes back to draft and needs approval."""
    c = ctx(request)
    b = body(request, DraftPatch)
    row = await _draft(c, request.match_info["warning_id"])
    content = _compose(c, b, json.loads(row["content"]))
    if row["released_version"] and content.drill != (row["status"] == "Exercise"):
        raise bad_request("drill_fixed", "a released warning cannot switch between drill and real", "drill")
    await _move(
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
    return await _respond(request, row["warning_id"])


async def submit_warning(request: web.Request) -> web.Response:
    b = body(request, Step)
    row = await _draft(ctx(request), request.match_info["warning_id"])
    values = {"state": "submitted", "submitted_by": user(request).username, "reason": None}
    return await _transition(request, row, b.revision, "submit", ("draft",), values, note=b.note)


async def approve_warning(request: web.Request) -> web.Response:
    b = body(request, Step)
    row = await _draft(ctx(request), request.match_info["warning_id"])
    u = user(request)
    if u.username in (row["created_by"], row["submitted_by"]):
        await audit.record(request, "warning.approve.refused", row["warning_id"], reason="self_approval")
        raise ApiError(
            403,
            "self_approval",
            "you drafted or submitted this warning; a second person must approve it (two-person rule)",
        )
    values = {"state": "approved", "approved_by": u.username}
    approval = {"actor": u.username, "decision": "approved", "reason": b.note}
    return await _transition(
        request, row, b.revision, "approve", ("submitted",), values, approval, note=b.note
    )


async def reject_warning(request: web.Request) -> web.Response:
    b = body(request, Reason)
    row = await _draft(ctx(request), request.match_info["warning_id"])
    approval = {"actor": user(request).username, "decision": "rejected", "reason": b.reason}
    values = {"state": "rejected", "reason": b.reason}
    return await _transition(
        request, row, b.revision, "reject", ("submitted",), values, approval, reason=b.reason
    )


async def _transition(
    request: web.Request,
    row: dict[str, Any],
    revision: int,
    action: str,
    allowed: tuple[str, ...],
    values: dict[str, Any],
    approval: dict[str, Any] | None = None,
    **detail: Any,
) -> web.Response:
    """One step of the two-person workflow: moved (if still in an allowed state at that revision),
    counted, audited, answered with the warning as it now stands."""
    await _move(
        request, row, revision=revision, allowed=allowed, action=action, values=values, approval=approval
    )
    metrics.API_WARNING_ACTIONS.labels(action).inc()
    await audit.record(request, f"warning.{action}", row["warning_id"], revision=revision, **detail)
    return await _respond(request, row["warning_id"])


async def _publish(c: ApiContext, row: dict[str, Any], msg_type: MsgType) -> tuple[list[str], int]:
    """Put the next message of the chain on the manual feed topic. Returns the references and version."""
    refs: list[str] = json.loads(row["released_refs"])
    # The first message's identifier is the chain key; later ones are key#n and reference all before
    # them, so the normaliser files them under the same chain at version 1 + len(references).
    identifier = row["identifier"] if not refs else f"{row['identifier']}#{len(refs) + 1}"
    payload, ref = feed_message(
        Compose.model_validate_json(row["content"]),
        identifier=identifier,
        msg_type=msg_type,
        references=refs,
        now=_now(c),
    )
    try:
        # Keyed by chain, like `warnengine broadcast`: an Update or Cancel stays in order behind the Alert.
        await c.publisher.publish(topics.feed_topic(topics.MANUAL), row["warning_id"].encode(), payload)
    except Exception as e:
        log.warning("release_not_confirmed", warning_id=row["warning_id"], error=repr(e))
        raise ApiError(
            503, "broker_unavailable", f"the message bus did not confirm the release: {e!r}"
        ) from e
    return [*refs, ref], len(refs) + 1


async def release_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, Step)
    row = await _draft(c, request.match_info["warning_id"])
    u = user(request)
    rule = None
    if row["state"] == "submitted":
        rule = c.policy.fast_path(Hazard(row["hazard"]), Severity(row["severity"]), u.role.value)
        if rule is None:
            raise conflict(
                "not_approved",
                "a second person must approve this warning first "
                f"(no fast path for {row['hazard']}/{row['severity']} and role {u.role.value})",
            )
    allowed = ("submitted",) if rule else ("approved",)
    # Claim it first (releasing), publish, then record: a second press finds it taken and gets a conflict.
    await _move(
        request, row, revision=b.revision, allowed=allowed, action="release", values={"state": "releasing"}
    )
    msg_type = MsgType.UPDATE if row["released_version"] else MsgType.ALERT
    try:
        refs, version = await _publish(c, row, msg_type)
    except ApiError:
        await c.store.move_draft(
            row["warning_id"], from_states=("releasing",), revision=b.revision, values={"state": row["state"]}
        )
        await audit.record(request, "warning.release.failed", row["warning_id"], revision=b.revision)
        raise
    await c.store.move_draft(
        row["warning_id"],
        from_states=("releasing",),
        revision=b.revision,
        values={
            "state": "released",
            "released_refs": json.dumps(refs),
            "released_version": version,
            "released_by": u.username,
            "released_at": c.store.clock.now(),
            "fast_path": rule is not None,
        },
        approval={"actor": u.username, "decision": "fast_path", "reason": rule.describe()} if rule else None,
    )
    metrics.API_WARNING_ACTIONS.labels("fast_path" if rule else "release").inc()
    await audit.record(
        request,
        "warning.release.fast_path" if rule else "warning.release",
        row["warning_id"],
        revision=b.revision,
        version=version,
        msg_type=msg_type.value,
        drill=row["status"] == "Exercise",
        rule=rule.describe() if rule else None,
        policy=c.policy.source if rule else None,
    )
    return await _respond(request, row["warning_id"])


async def cancel_warning(request: web.Request) -> web.Response:
    """Stop a warning. A live one gets a Cancel message at once: stopping is never held up by approval."""
    c = ctx(request)
    b = body(request, Reason)
    row = await _draft(c, request.match_info["warning_id"])
    allowed = EDITABLE
    await _move(
        request, row, revision=b.revision, allowed=allowed, action="cancel", values={"state": "releasing"}
    )
    values: dict[str, Any] = {"state": "cancelled", "reason": b.reason}
    version = None
    if row["released_version"]:
        try:
            refs, version = await _publish(c, row, MsgType.CANCEL)
        except ApiError:
            await c.store.move_draft(
                row["warning_id"],
                from_states=("releasing",),
                revision=b.revision,
                values={"state": row["state"]},
            )
            raise
        values.update(released_refs=json.dumps(refs), released_version=version)
    await c.store.move_draft(
        row["warning_id"], from_states=("releasing",), revision=b.revision, values=values
    )
    metrics.API_WARNING_ACTIONS.labels("cancel").inc()
    await audit.record(request, "warning.cancel", row["warning_id"], reason=b.reason, version=version)
    return await _respond(request, row["warning_id"])


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
