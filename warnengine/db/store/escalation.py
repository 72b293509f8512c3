"""What the escalation ladder reads and writes: live versions, unreached households, unanswered staff,
visit tasks (入户) (their outcomes: db/store/visits.py). Every write is idempotent (stable ids,
insert-or-ignore)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, update

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import DeliveryState, HazardWarning
from warnengine.model.records import LiveVersion, VisitTask

# Open cases a visit leaves (issue 17): a household that needs help is handed to someone and stays open
# until a visitor reports it reached; nobody home is revisited once before it is final.
NEEDS_HELP, NOBODY_HOME = "needs_help", "nobody_home"


class EscalationQueries(StoreBase):
    async def live_for_escalation(self, now: float) -> list[LiveVersion]:
        """Resolved, newest versions of live chains that have not expired (Cancels are not escalated)."""
        w, s = t.warnings.c, t.escalation_steps.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(w.body, w.resolved_at).where(
                    w.state == "resolved",
                    w.msg_type != "Cancel",
                    w.resolved_at.is_not(None),
                    (w.expires.is_(None)) | (w.expires > now),
                )
            )
            versions = [(HazardWarning.model_validate_json(r.body), float(r.resolved_at)) for r in res]
            done: dict[tuple[str, int], set[int]] = {}
            if versions:
                rows = await conn.execute(select(s.warning_id, s.version, s.step))
                for r in rows:
                    done.setdefault((r.warning_id, r.version), set()).add(r.step)
        return [
            LiveVersion(v, at, frozenset(done.get((v.warning_id, v.version), set()))) for v, at in versions
        ]

    async def unreached_households(self, warning_id: str) -> list[tuple[str, str, str, bool]]:
        """(household, village, group cell, vulnerable) of the warning's households not yet reached."""
        wh = t.warning_households.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(wh.household_id, wh.village_code, wh.cell_code, wh.vulnerable).where(
                    wh.warning_id == warning_id,
                    wh.state.not_in(("reached", "unreachable", NEEDS_HELP, NOBODY_HOME)),
                )
            )
            return [(r.household_id, r.village_code, r.cell_code, bool(r.vulnerable)) for r in res]

    async def reach_by_loudspeaker(self, warning_id: str, version: int, now: float) -> int:
        """Households of villages where a terminal played this version: reached, by the loudspeaker."""
        d, wh = t.deliveries.c, t.warning_households.c
        async with self.engine.begin() as conn:
            played = (
                select(d.village_code, func.min(d.acked_at).label("at"))
                .where(
                    d.warning_id == warning_id,
                    d.version == version,
                    d.channel == "loudspeaker",
                    d.state == DeliveryState.PLAYED.value,
                )
                .group_by(d.village_code)
            )
            villages = [(r.village_code, r.at) for r in await conn.execute(played)]
            n = 0
            for village, at in villages:
                res = await conn.execute(
                    update(t.warning_households)
                    .where(
                        wh.warning_id == warning_id,
                        wh.village_code == village,
                        wh.state.not_in(("reached", "unreachable", NEEDS_HELP)),
                    )
                    .values(
                        state="reached",
                        reached_by="loudspeaker",
                        evidence=f"village {village}",
                        reached_at=at if at is not None else now,
                        updated_at=now,
                    )
                )
                n += res.rowcount or 0
            return n

    async def unanswered_staff(self, warning_id: str, version: int, sent_before: float) -> list[str]:
        """Grid staff (any role but resident — a group leader at home too) sent (or failed to be sent) this
        version's first message before `sent_before` who have acknowledged on no channel and whose superior
        was not called yet."""
        d, sc, p = t.deliveries.c, t.staff_calls.c, t.people.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(
                    d.person_id,
                    func.max(d.acked_at).label("acked"),
                    # Sent, tried or (never tried) planned: a staff member whose messages all failed is
                    # as silent as one who does not answer, and their superior must hear of it.
                    func.min(func.coalesce(d.sent_at, d.last_attempt_at, d.created_at)).label("sent"),
                )
                .join_from(t.deliveries, t.people, p.person_id == d.person_id)
                .where(d.warning_id == warning_id, d.version == version, d.step == 0, p.role != "resident")
                .group_by(d.person_id)
            )
            candidates = [
                r.person_id for r in res if r.acked is None and r.sent is not None and r.sent <= sent_before
            ]
            called = {
                r.person_id
                for r in await conn.execute(select(sc.person_id).where(sc.warning_id == warning_id))
            }
        return [p for p in candidates if p not in called]

    async def silent_staff(self, warning_id: str) -> set[str]:
        """Staff whose superior was called (叫应) and who still have acknowledged nothing of the warning."""
        d, sc = t.deliveries.c, t.staff_calls.c
        async with self.engine.connect() as conn:
            called = {
                r.person_id
                for r in await conn.execute(select(sc.person_id).where(sc.warning_id == warning_id))
            }
            if not called:
                return set()
            answered = {
                r.person_id
                for r in await conn.execute(
                    select(d.person_id).where(
                        d.warning_id == warning_id, d.person_id.in_(sorted(called)), d.acked_at.is_not(None)
                    )
                )
            }
        return called - answered

    async def record_staff_calls(
        self, warning_id: str, calls: Sequence[tuple[str, str | None]], now: float
    ) -> None:
        rows = [
            {"warning_id": warning_id, "person_id": p, "superior_id": s, "called_at": now} for p, s in calls
        ]
        async with self.engine.begin() as conn:
            for chunk in chunks(rows):
                await conn.execute(self._insert_ignore(t.staff_calls), list(chunk))

    async def record_step(
        self, warning_id: str, version: int, step: int, action: str, households: int, now: float
    ) -> None:
        row = {
            "warning_id": warning_id,
            "version": version,
            "step": step,
            "action": action,
            "done_at": now,
            "households": households,
        }
        async with self.engine.begin() as conn:
            await conn.execute(self._insert_ignore(t.escalation_steps), [row])

    async def create_visit_tasks(self, tasks: Sequence[VisitTask], now: float) -> None:
        """New tasks are created; an existing task (same warning and group) gains the new households."""
        task_rows = [
            {
                "task_id": v.task_id,
                "warning_id": v.warning_id,
                "version": v.version,
                "village_code": v.village_code,
                "group_code": v.group_code,
                "assignee": v.assignee,
                "level": v.level,
                "state": "open",
                "created_at": now,
                "assigned_at": now,
            }
            for v in tasks
        ]
        home_rows = [
            {"task_id": v.task_id, "household_id": h, "vulnerable": vul}
            for v in tasks
            for h, vul, _ in v.households
        ]
        async with self.engine.begin() as conn:
            for chunk in chunks(task_rows):
                await conn.execute(self._insert_ignore(t.visit_tasks), list(chunk))
            for chunk in chunks(home_rows):
                await conn.execute(self._insert_ignore(t.visit_households), list(chunk))

    async def visit_tasks(
        self, warning_id: str, states: Sequence[str] = ("open", "accepted")
    ) -> list[VisitTask]:
        vt, vh = t.visit_tasks.c, t.visit_households.c
        async with self.engine.connect() as conn:
            tasks = (
                await conn.execute(
                    select(t.visit_tasks).where(vt.warning_id == warning_id, vt.state.in_(list(states)))
                )
            ).all()
            homes: dict[str, list[tuple[str, bool, str | None]]] = {}
            for chunk in chunks([r.task_id for r in tasks]):
                for r in await conn.execute(select(t.visit_households).where(vh.task_id.in_(chunk))):
                    homes.setdefault(r.task_id, []).append((r.household_id, bool(r.vulnerable), r.outcome))
        return [
            VisitTask(
                r.task_id,
                r.warning_id,
                r.version,
                r.village_code,
                r.group_code,
                r.assignee,
                r.level,
                r.state,
                tuple(sorted(homes.get(r.task_id, []), key=lambda h: (not h[1], h[0]))),
            )
            for r in tasks
        ]

    async def reassign_visits(self, moves: Sequence[tuple[str, str | None, int]], now: float) -> None:
        """(task, new assignee, new level): an unconfirmed visit goes up the grid."""
        if not moves:
            return
        vt = t.visit_tasks.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.visit_tasks)
                .where(vt.task_id == bindparam("tid"), vt.state != "done", vt.state != "cancelled")
                .values(assignee=bindparam("who"), level=bindparam("lvl"), assigned_at=now, state="open"),
                [{"tid": tid, "who": who, "lvl": lvl} for tid, who, lvl in moves],
            )

    async def follow_ups(
        self, warning_id: str, empty_before: float, vulnerable_empty_before: float | None = None
    ) -> list[tuple[str, str, str, bool, str]]:
        """(household, village, group, vulnerable, kind) needing a follow-up visit now: `needs_help` cases
        and `nobody_home` doors reported at or before `empty_before` (a vulnerable household's at or before
        `vulnerable_empty_before`), that no visit task holds open."""
        sooner = empty_before if vulnerable_empty_before is None else vulnerable_empty_before
        wh, vt, vh = t.warning_households.c, t.visit_tasks.c, t.visit_households.c
        async with self.engine.connect() as conn:
            cases = (
                await conn.execute(
                    select(wh.household_id, wh.village_code, wh.cell_code, wh.vulnerable, wh.state).where(
                        wh.warning_id == warning_id,
                        wh.state.in_((NEEDS_HELP, NOBODY_HOME)),
                        (wh.state == NEEDS_HELP)
                        | (wh.updated_at <= empty_before)
                        | (wh.vulnerable.is_(True) & (wh.updated_at <= sooner)),
                    )
                )
            ).all()
            pending = {
                r.household_id
                for r in await conn.execute(
                    select(vh.household_id)
                    .join_from(t.visit_households, t.visit_tasks, vt.task_id == vh.task_id)
                    .where(vt.warning_id == warning_id, vt.state != "cancelled", vh.outcome.is_(None))
                )
            }
        return [
            (r.household_id, r.village_code, r.cell_code, bool(r.vulnerable), r.state)
            for r in cases
            if r.household_id not in pending
        ]
