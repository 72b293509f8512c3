"""Upward reports (上报): the warning chains they are due on, what they count, and which went out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import DeliveryState, HazardWarning, MsgType
from warnengine.model.records import ProgressRows, ReportChain


class UpwardQueries(StoreBase):
    async def report_chains(self, now: float, since: float) -> list[ReportChain]:
        """Chains released at some time whose newest live version is live now, or ended (Cancel received,
        or expired) after `since`: a chain that ended long before upward reports existed is never
        reported on."""
        w = t.warnings.c
        async with self.engine.connect() as conn:
            newest = (
                await conn.execute(
                    select(w.warning_id, w.msg_type, w.body, w.expires, w.received_at).where(
                        w.state.in_(("accepted", "resolved")),
                        (w.expires.is_(None))
                        | (w.expires > since)
                        | ((w.msg_type == MsgType.CANCEL.value) & (w.received_at > since)),
                    )
                )
            ).all()
            released: dict[str, float] = {}
            for chunk in chunks(sorted({r.warning_id for r in newest})):
                res = await conn.execute(
                    select(w.warning_id, func.min(w.resolved_at).label("at"))
                    .where(w.warning_id.in_(chunk), w.resolved_at.is_not(None))
                    .group_by(w.warning_id)
                )
                released.update({r.warning_id: float(r.at) for r in res})
        out: dict[str, ReportChain] = {}
        for r in sorted(newest, key=lambda r: (r.warning_id, r.msg_type != MsgType.CANCEL.value)):
            if r.warning_id not in released or r.warning_id in out:
                continue  # never released, or its Cancel is already taken
            cancel = r.msg_type == MsgType.CANCEL.value
            if cancel and r.received_at <= since:
                continue
            closed = cancel or (r.expires is not None and r.expires <= now)
            warning = HazardWarning.model_validate_json(r.body)
            out[r.warning_id] = ReportChain(warning, released[r.warning_id], closed)
        return list(out.values())

    async def progress_rows(self, warning_id: str) -> ProgressRows:
        wh, d, sc, dc = t.warning_households.c, t.deliveries.c, t.staff_calls.c, t.duty_calls.c
        vt, vh = t.visit_tasks.c, t.visit_households.c
        async with self.engine.connect() as conn:
            homes = (
                await conn.execute(
                    select(wh.village_code, wh.state, wh.vulnerable).where(wh.warning_id == warning_id)
                )
            ).all()
            played = {
                r.village_code
                for r in await conn.execute(
                    select(d.village_code)
                    .where(
                        d.warning_id == warning_id,
                        d.channel == "loudspeaker",
                        d.state == DeliveryState.PLAYED.value,
                    )
                    .distinct()
                )
            }
            visits: dict[str, int] = {
                str(r[0]): int(r[1])
                for r in await conn.execute(
                    select(vt.village_code, func.count())
                    .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                    .where(
                        vt.warning_id == warning_id,
                        vt.state.in_(("open", "accepted")),
                        vh.outcome.is_(None),
                    )
                    .group_by(vt.village_code)
                )
            }
            called = [
                r.person_id
                for r in await conn.execute(select(sc.person_id).where(sc.warning_id == warning_id))
            ]
            acked = {
                r.person_id
                for r in await conn.execute(
                    select(d.person_id)
                    .where(d.warning_id == warning_id, d.person_id.in_(called), d.acked_at.is_not(None))
                    .distinct()
                )
            }
            tries = dict(
                (
                    await conn.execute(
                        select(dc.person_id, func.sum(dc.tries))
                        .where(dc.warning_id == warning_id)
                        .group_by(dc.person_id)
                    )
                ).all()
            )
            wo = ot.warning_orgs.c
            orgs = (
                await conn.execute(
                    select(wo.village_code, wo.state, wo.headcount).where(wo.warning_id == warning_id)
                )
            ).all()
        return ProgressRows(
            [(r.village_code, r.state, bool(r.vulnerable)) for r in homes],
            played,
            visits,
            {p: int(tries.get(p) or 0) for p in called if p not in acked},
            [(r.village_code, r.state, int(r.headcount)) for r in orgs],
        )

    async def upward_sent(self, warning_id: str) -> set[tuple[str, str, int]]:
        """(cell, kind, due minute) of the reports of this chain that went out."""
        u = t.upward_reports.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(u.cell_code, u.kind, u.due_min).where(u.warning_id == warning_id))
            return {(r.cell_code, r.kind, int(r.due_min)) for r in res}

    async def record_upward(self, rows: Sequence[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            for chunk in chunks(list(rows)):
                await conn.execute(self._insert_ignore(t.upward_reports), list(chunk))

    async def upward_reports(self, warning_id: str) -> list[dict[str, Any]]:
        """The chain's upward reports, oldest first (the console and the closure report list them)."""
        u = t.upward_reports.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(t.upward_reports).where(u.warning_id == warning_id).order_by(u.sent_at, u.cell_code)
            )
            return [dict(r._mapping) for r in res]

    async def staff_messages(self, warning_id: str, min_step: int) -> list[dict[str, Any]]:
        """The warning's deliveries to people from ladder step `min_step` on (叫应 calls and messages,
        upward reports), oldest first: what the duty room's call log shows, each with its outcome."""
        d = t.deliveries.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(
                    d.delivery_id,
                    d.person_id,
                    d.channel,
                    d.step,
                    d.state,
                    d.reason,
                    d.attempts,
                    d.created_at,
                    d.acked_at,
                )
                .where(d.warning_id == warning_id, d.step >= min_step)
                .order_by(d.created_at, d.person_id, d.channel)
            )
            return [dict(r._mapping) for r in res]
