"""The two-person workflow: submit, then approve or reject (制作 → 审核).

The approver must be neither the author nor the submitter; the emergency fast path (config/approval.yaml)
skips approval at release, not here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from warnengine.api import audit
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError
from warnengine.api.routing import body, user
from warnengine.api.warning_models import Reason, Step
from warnengine.api.warning_state import load_draft, move, respond
from warnengine.obs import metrics


async def submit_warning(request: web.Request) -> web.Response:
    b = body(request, Step)
    row = await load_draft(ctx(request), request.match_info["warning_id"])
    values = {"state": "submitted", "submitted_by": user(request).username, "reason": None}
    return await _transition(request, row, b.revision, "submit", ("draft",), values, note=b.note)


async def approve_warning(request: web.Request) -> web.Response:
    b = body(request, Step)
    row = await load_draft(ctx(request), request.match_info["warning_id"])
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
    row = await load_draft(ctx(request), request.match_info["warning_id"])
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
    await move(
        request, row, revision=revision, allowed=allowed, action=action, values=values, approval=approval
    )
    metrics.API_WARNING_ACTIONS.labels(action).inc()
    await audit.record(request, f"warning.{action}", row["warning_id"], revision=revision, **detail)
    return await respond(request, row["warning_id"])
