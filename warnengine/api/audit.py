"""Every action in `audit_log`: who (actor), what (action), on what (subject), when (at), from where."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from warnengine.api.auth import ApiRole, remote_of
from warnengine.api.context import ctx
from warnengine.api.drafts import Text
from warnengine.api.routing import USER, Op, json_out, query


async def record(
    request: web.Request, action: str, subject: str | None, *, actor: str | None = None, **detail: Any
) -> None:
    """Write one audit row. `actor` defaults to the authenticated user; "from where" goes into detail."""
    who = request.get(USER)
    name = actor or (who.username if who else "anonymous")
    detail = {"remote": remote_of(request), **({"via": who.via} if who else {}), **detail}
    await ctx(request).store.audit(name, action, subject, detail)


class AuditQuery(BaseModel):
    subject: Text | None = Field(default=None, max_length=200)
    actor: Text | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=1, le=1000)


class AuditEntry(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    subject: str | None
    detail: str | None


class AuditList(BaseModel):
    entries: list[AuditEntry]


async def list_audit(request: web.Request) -> web.Response:
    q = query(request, AuditQuery)
    rows = await ctx(request).store.audit_entries(subject=q.subject, actor=q.actor, limit=q.limit)
    return json_out(AuditList(entries=[AuditEntry(**r) for r in rows]))


OPS = [
    Op(
        "GET",
        "/api/v1/audit",
        list_audit,
        "The audit log, newest first",
        "audit",
        frozenset({ApiRole.APPROVER, ApiRole.ADMIN}),
        query=AuditQuery,
        response=AuditList,
    ),
]
