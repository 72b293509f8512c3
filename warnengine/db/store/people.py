"""Acknowledgements from people: provider receipts, replies, app acks — and what they mean per household.

A delivery moves forward only (pending < sent < delivered < acknowledged); a human acknowledgement wins
over a provider's "failed" (the person answered, so it arrived). A household is reached when any member
acknowledged; the evidence (the delivery) and the time are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import DeliveryState

CALL_STEP = 50  # escalate.ladder.CALL_STEP: the step of 叫应 calls to superiors
_LOOKUP = 5000  # ids per primary-key IN lookup (SQLite allows 32,766 variables; PostgreSQL far more)
_HOUSEHOLD_RANK = {"targeted": 0, "sent": 1, "delivered": 2, "reached": 3, "unreachable": 3}


@dataclass(frozen=True)
class Acknowledged:
    delivery_id: str
    warning_id: str
    person_id: str | None
    household_id: str | None
    channel: str
    at: float


class PeopleQueries(StoreBase):
    async def apply_statuses(
        self, items: Sequence[tuple[str, DeliveryState, float, str | None]]
    ) -> dict[str, int]:
        """Provider receipts (delivery id, sent|delivered|failed, at, reason): applied forward only."""
        counts = {"applied": 0, "stale": 0, "unknown_delivery": 0}
        if not items:
            return counts
        d = t.deliveries.c
        async with self.engine.begin() as conn:
            current: dict[str, tuple[str, str, str | None]] = {}
            for chunk in chunks(sorted({i[0] for i in items}), _LOOKUP):
                res = await conn.execute(
                    select(d.delivery_id, d.state, d.warning_id, d.household_id).where(
                        d.delivery_id.in_(chunk)
                    )
                )
                current.update({r.delivery_id: (r.state, r.warning_id, r.household_id) for r in res})
            moves: dict[str, tuple[str, float, str | None]] = {}
            for did, state, at, reason in items:
                have = current.get(did)
                if have is None:
                    counts["unknown_delivery"] += 1
                    continue
                cur = DeliveryState(moves[did][0] if did in moves else have[0])
                if cur.final or state.rank <= cur.rank:
                    counts["stale"] += 1
                    continue
                moves[did] = (state.value, at, reason)
                counts["applied"] += 1
            if moves:
                await self.executemany(
                    conn,
                    "UPDATE deliveries SET state = ?, reason = ? WHERE delivery_id = ?",
                    [(v[0], v[2], k) for k, v in moves.items()],
                )
                homes = [
                    {"w": current[k][1], "h": current[k][2], "st": v[0], "at": v[1]}
                    for k, v in moves.items()
                    if current[k][2] and v[0] in ("sent", "delivered")
                ]
                for st in ("sent", "delivered"):  # a household moves forward only, like its deliveries
                    rows = [r for r in homes if r["st"] == st]
                    if rows:
                        wh = t.warning_households.c
                        lower = [s for s, rank in _HOUSEHOLD_RANK.items() if rank < _HOUSEHOLD_RANK[st]]
                        await conn.execute(
                            update(t.warning_households)
                            .where(wh.warning_id == bindparam("w"), wh.household_id == bindparam("h"))
                            .where(*(wh.state != s for s in _HOUSEHOLD_RANK if s not in lower))
                            .values(state=st, updated_at=bindparam("at")),
                            rows,
                        )
        return counts

    async def acknowledge(self, delivery_ids: Sequence[str], at: float) -> list[Acknowledged]:
        """Mark the existing ones among `delivery_ids` acknowledged (a human answered) and their
        households reached; returns what changed (ids that do not exist, or were acknowledged, cancelled
        or expired before, change nothing)."""
        d = t.deliveries.c
        done: list[Acknowledged] = []
        async with self.engine.begin() as conn:
            for chunk in chunks(sorted(set(delivery_ids)), _LOOKUP):
                res = await conn.execute(
                    select(d.delivery_id, d.warning_id, d.person_id, d.household_id, d.channel).where(
                        d.delivery_id.in_(chunk),
                        d.state.not_in(
                            [
                                DeliveryState.ACKNOWLEDGED.value,
                                DeliveryState.CANCELLED.value,
                                DeliveryState.EXPIRED.value,
                            ]
                        ),
                    )
                )
                done += [
                    Acknowledged(r.delivery_id, r.warning_id, r.person_id, r.household_id, r.channel, at)
                    for r in res
                ]
            if not done:
                return done
            await self.executemany(
                conn,
                "UPDATE deliveries SET state = 'acknowledged', acked_at = ?, reason = NULL"
                " WHERE delivery_id = ?",
                [(at, a.delivery_id) for a in done],
            )
            homes = {(a.warning_id, a.household_id): a for a in done if a.household_id}
            if homes:
                await self.executemany(
                    conn,
                    "UPDATE warning_households SET state = 'reached', reached_by = ?, evidence = ?,"
                    " reached_at = ?, updated_at = ? WHERE warning_id = ? AND household_id = ?"
                    " AND state != 'reached'",
                    [(a.channel, a.delivery_id, a.at, a.at, w, h) for (w, h), a in homes.items()],
                )
        return done

    async def recent_versions(self, since: float) -> list[tuple[str, int, tuple[int, ...]]]:
        """Warning versions resolved since `since` and still live, each with the steps that sent messages
        (0, the ladder steps that ran, and 50 when superiors were called): what a reply can answer."""
        w, s, c = t.warnings.c, t.escalation_steps.c, t.staff_calls.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(w.warning_id, w.version).where(w.state == "resolved", w.resolved_at >= since)
            )
            versions = [(r.warning_id, r.version) for r in res]
            if not versions:
                return []
            ids = sorted({v[0] for v in versions})
            steps: dict[tuple[str, int], set[int]] = {}
            for r in await conn.execute(select(s.warning_id, s.version, s.step).where(s.warning_id.in_(ids))):
                steps.setdefault((r.warning_id, r.version), set()).add(r.step)
            called = {
                r.warning_id
                for r in await conn.execute(select(c.warning_id).where(c.warning_id.in_(ids)).distinct())
            }
        return [
            (
                wid,
                v,
                tuple(sorted({0, *steps.get((wid, v), set()), *((CALL_STEP,) if wid in called else ())})),
            )
            for wid, v in versions
        ]
