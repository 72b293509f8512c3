"""The audit log: who did what, on what, when (the API, imports, escalation)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase


class AuditQueries(StoreBase):
    async def audit(self, actor: str, action: str, subject: str | None, detail: dict[str, Any]) -> None:
        # An audit row must always be writable, whatever a caller typed: PostgreSQL text refuses NUL.
        def clean(s: str, n: int) -> str:
            return s.replace("\x00", "\\0")[:n]

        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.audit_log).values(
                    at=self.clock.now(),
                    actor=clean(actor, 64),
                    action=clean(action, 64),
                    subject=clean(subject, 1000) if subject is not None else None,
                    detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
                )
            )

    async def audit_entries(
        self,
        *,
        subject: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        a = t.audit_log.c
        q = select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if subject is not None:
            q = q.where(a.subject == subject)
        if actor is not None:
            q = q.where(a.actor == actor)
        if action is not None:
            q = q.where(a.action == action)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(q)]

    async def last_audit(self, action: str) -> dict[str, Any] | None:
        rows = await self.audit_entries(action=action, limit=1)
        return rows[0] if rows else None
