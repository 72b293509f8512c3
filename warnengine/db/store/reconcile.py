"""What the reconciler asks: unfinished stages, due re-sends, unreached deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, case, func, or_, select, tuple_, update

from warnengine.db import tables as t
from warnengine.db.store.base import OPEN, StoreBase, chunks
from warnengine.model import Channel, DeliveryState, HazardWarning

# A version still unresolved after a re-emit waits as long again as it had waited at that re-emit (so
# copies go out at grace, 2x, 4x … after it arrived: a long resolve queue is not fed its own copies every
# grace period), at most this long.
REEMIT_BACKOFF_CAP_S = 120.0


class ReconcileQueries(StoreBase):
    async def stale_warnings(self, before: float, limit: int = 100) -> list[HazardWarning]:
        """Versions accepted and not resolved since `before` (last re-emit or arrival) and, once re-emitted,
        for as long again as they had waited then (capped: REEMIT_BACKOFF_CAP_S)."""
        w = t.warnings.c
        waited = w.updated_at - w.received_at  # at the last re-emit (0 before the first)
        backoff = case((waited > REEMIT_BACKOFF_CAP_S, REEMIT_BACKOFF_CAP_S), else_=waited)
        now = self.clock.now()
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(w.body)
                .where(w.state == "accepted", w.updated_at <= before, w.updated_at + backoff <= now)
                .limit(limit)
            )
            return [HazardWarning.model_validate_json(r.body) for r in res]

    async def touch_warnings(self, keys: list[tuple[str, int]]) -> None:
        """Restart a re-emitted stage's grace period so the reconciler does not re-emit it every sweep."""
        w = t.warnings.c
        async with self.engine.begin() as conn:
            for chunk in chunks(keys):
                await conn.execute(
                    update(t.warnings)
                    .where(tuple_(w.warning_id, w.version).in_(chunk))
                    .values(updated_at=self.clock.now())
                )

    async def unfinished_villages(
        self,
        before: float,
        resend_after: float,
        max_attempts: int,
        limit: int = 1000,
        people_channels: Sequence[str] = (),
    ) -> list[tuple[str, int, str]]:
        """(warning_id, version, village) whose fan-out stalled or that have deliveries due a re-send.

        Terminal commands are re-sent until played; a people delivery only while it is still pending (a
        retryable failure), and only on channels with a provider: the escalation ladder re-sends the rest.
        """
        wv = t.warning_villages.c
        d = t.deliveries.c
        now = self.clock.now()
        async with self.engine.connect() as conn:
            stalled = await conn.execute(
                select(wv.warning_id, wv.version, wv.village_code)
                .where(wv.state == "pending", wv.updated_at <= before)
                .limit(limit)
            )
            due = await conn.execute(
                select(d.warning_id, d.version, d.village_code)
                .where(
                    or_(
                        and_(d.channel == Channel.LOUDSPEAKER.value, d.state.in_(OPEN)),
                        and_(d.channel.in_(list(people_channels)), d.state == DeliveryState.PENDING.value),
                    ),
                    d.expires_at > now,
                    d.attempts < max_attempts,
                    or_(d.last_attempt_at.is_(None), d.last_attempt_at <= now - resend_after),
                    or_(d.last_attempt_at.is_not(None), d.created_at <= before),
                )
                .distinct()
                .limit(limit)
            )
            out = {(r.warning_id, r.version, r.village_code) for r in stalled}
            out |= {(r.warning_id, r.version, r.village_code) for r in due}
            return sorted(out)

    async def touch_villages(self, keys: list[tuple[str, int, str]]) -> None:
        wv = t.warning_villages.c
        async with self.engine.begin() as conn:
            for chunk in chunks(keys):
                await conn.execute(
                    update(t.warning_villages)
                    .where(
                        tuple_(wv.warning_id, wv.version, wv.village_code).in_(chunk), wv.state == "pending"
                    )
                    .values(updated_at=self.clock.now())
                )

    async def accepted_at(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], float]:
        """When the engine accepted each warning version (for fan-out latency)."""
        w = t.warnings.c
        out: dict[tuple[str, int], float] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(keys))):
                res = await conn.execute(
                    select(w.warning_id, w.version, w.received_at).where(
                        tuple_(w.warning_id, w.version).in_(chunk)
                    )
                )
                out.update({(r.warning_id, r.version): r.received_at for r in res})
        return out

    async def unreached(self) -> list[tuple[str, str, int, float]]:
        """(channel, severity, deliveries not played, oldest warning accepted_at) over commands in force."""
        d = t.deliveries.c
        w = t.warnings.c
        gone = (DeliveryState.PLAYED.value, DeliveryState.CANCELLED.value)
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(d.channel, w.severity, func.count(), func.min(w.received_at))
                .join_from(
                    t.deliveries, t.warnings, and_(w.warning_id == d.warning_id, w.version == d.version)
                )
                .where(d.state.not_in(gone), d.expires_at > self.clock.now())
                .group_by(d.channel, w.severity)
            )
            return [(r[0], r[1], int(r[2]), float(r[3])) for r in res]

    async def households_in_force(self) -> list[tuple[str, str, int]]:
        """(severity, reached | unreached, households) over the warnings in force (the live version,
        not expired): what the red-unreached alert watches. Drills are left out."""
        w, h = t.warnings.c, t.warning_households.c
        reached = case((h.state == "reached", "reached"), else_="unreached")
        now = self.clock.now()
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(w.severity, reached, func.count())
                # By chain: a household keeps the version that first targeted it; the chain's one live
                # (resolved) version says whether, and how severe, the warning is in force.
                .join_from(t.warning_households, t.warnings, w.warning_id == h.warning_id)
                .where(
                    w.state == "resolved",
                    w.status == "Actual",
                    or_(w.expires.is_(None), w.expires > now),
                )
                .group_by(w.severity, reached)
            )
            return [(str(r[0]), str(r[1]), int(r[2])) for r in res]

    async def load_warning(self, warning_id: str, version: int) -> HazardWarning | None:
        w = t.warnings.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(w.body).where(w.warning_id == warning_id, w.version == version))
            body = res.scalar_one_or_none()
            return HazardWarning.model_validate_json(body) if body else None
