"""Dead letters and per-warning summaries."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import and_, func, select

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase


class ReportQueries(StoreBase):
    async def dead_letter(
        self, stage: str, reason: str, detail: str, payload: bytes | str, source: str | None, key: str | None
    ) -> int:
        """The row's id. Idempotent: the same (stage, reason, payload) already recorded is not written
        again (a retried dead letter once wrote one row 39 times), its existing id is returned."""
        # Whatever the bad input holds, the row must be storable: PostgreSQL text refuses NUL and invalid
        # UTF-8, and a dead letter that cannot be written would hold up the line behind it.
        raw = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if (not text and raw) or "\x00" in text:
            text = "b64:" + base64.b64encode(raw).decode()
        row = {
            "stage": _clean(stage, 32),
            "reason": _clean(reason, 64),
            "detail": _clean(detail, 4000),
            "source": _clean(source, 64) if source is not None else None,
            "key": _clean(key, 1000) if key is not None else None,
            "payload": text,
            "created_at": self.clock.now(),
        }
        c = t.dead_letters.c
        async with self.engine.begin() as conn:
            same = await conn.execute(
                select(c.id)
                .where(and_(c.stage == row["stage"], c.reason == row["reason"], c.payload == text))
                .limit(1)
            )
            existing = same.scalar_one_or_none()
            if existing is not None:
                return int(existing)
            res = await conn.execute(t.dead_letters.insert().returning(c.id), row)
            return int(res.scalar_one())

    async def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            res = await conn.execute(select(t.dead_letters).order_by(t.dead_letters.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in res]

    async def warning_summary(self, warning_id: str) -> dict[str, Any]:
        """Counts for one warning chain: villages, commands, acks by state."""
        d = t.deliveries.c
        async with self.engine.connect() as conn:
            villages = await conn.execute(
                select(func.count(func.distinct(t.warning_villages.c.village_code))).where(
                    t.warning_villages.c.warning_id == warning_id
                )
            )
            by_state = await conn.execute(
                select(d.state, func.count()).where(d.warning_id == warning_id).group_by(d.state)
            )
            sent = await conn.execute(
                select(func.count()).where(and_(d.warning_id == warning_id, d.attempts > 0))
            )
            return {
                "villages": int(villages.scalar_one()),
                "by_state": {r[0]: int(r[1]) for r in by_state},
                "attempted": int(sent.scalar_one()),
            }


def _clean(text: str, limit: int) -> str:
    """Printable, storable, bounded: NUL and lone surrogates out, length capped."""
    return text.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")[:limit]
