"""A dispatcher's warning as stored: read, answered, and moved between states by compare-and-set.

Every transition is a compare-and-set on (state, revision), so an approver approves exactly the revision
they read, and two people pressing at once cannot both win.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import Compose
from warnengine.api.errors import ApiError, conflict, not_found
from warnengine.api.routing import json_out
from warnengine.api.warning_models import Approval, DraftOut


def draft_out(row: dict[str, Any], approvals: list[dict[str, Any]] | None = None) -> DraftOut:
    return DraftOut(
        **{k: row[k] for k in DraftOut.model_fields if k in row and k not in ("content", "approvals")},
        drill=row["status"] == "Exercise",
        content=Compose.model_validate_json(row["content"]),
        live=row["released_version"] > 0 and row["state"] != "cancelled",
        approvals=[Approval(**a) for a in approvals or []],
    )


def now_utc(c: ApiContext) -> datetime:
    return datetime.fromtimestamp(c.store.clock.now(), UTC)


async def load_draft(c: ApiContext, warning_id: str) -> dict[str, Any]:
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


async def move(
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
        raise _stale(await load_draft(c, row["warning_id"]), revision, allowed, action)


async def respond(request: web.Request, warning_id: str, status: int = 200) -> web.Response:
    c = ctx(request)
    row = await load_draft(c, warning_id)
    return json_out(draft_out(row, await c.store.approvals(warning_id)), status)
