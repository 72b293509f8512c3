"""Deliveries: claiming attempts, recording sends, applying acks forward-only, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, func, null, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import tables as t
from warnengine.db.store.ack_judge import AckTarget, by_delivery, judge
from warnengine.db.store.base import OPEN, UNFINISHED, StoreBase, chunks
from warnengine.model import (
    Channel,
    DeliveryState,
    SpeakerAck,
)
from warnengine.model.delivery import delivery_id
from warnengine.model.records import AckTiming, DueDelivery, VillageTarget


class DeliveryQueries(StoreBase):
    async def claim_due(
        self,
        targets: Sequence[VillageTarget],
        resend_after: float,
        max_attempts: int,
        states: Sequence[str] = OPEN,
        claim: bool = True,
    ) -> list[DueDelivery]:
        """Create the deliveries of these villages if missing, and claim those due an attempt now.

        One transaction for a whole batch of villages. Due: not yet acknowledged, not expired, never tried
        or last tried `resend_after` ago. Claiming records the attempt before any send (design decision 2),
        so a task Kafka redelivers right after a crash does not re-send what just went out; the
        reconciler re-sends it once `resend_after` has passed without an ack.

        A delivery is claimed only if it is still due when its row is updated: of two workers that
        selected it at once, one claims it. A message to a person (no command id to recognise a copy by)
        claimed again while its last attempt left no outcome (still pending, no reason: the worker stopped
        mid-send) may reach them twice: `possible_duplicates` counts those sends. `claim=False`: only
        the due ones, for the caller to `claim` a few at a time, right before sending them.
        """
        now = self.clock.now()
        rows = [
            {
                "delivery_id": delivery_id(tg.warning_id, tg.version, r, tg.channel),
                "warning_id": tg.warning_id,
                "version": tg.version,
                "village_code": tg.village_code,
                "channel": tg.channel.value,
                "recipient": r,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "created_at": now,
                "expires_at": tg.expires_at,
            }
            for tg in targets
            for r in tg.recipients
        ]
        d = t.deliveries.c
        keys = sorted({(tg.warning_id, tg.version, tg.village_code, tg.channel.value) for tg in targets})
        # Terminals: each one's signature algorithm comes with its delivery (a primary-key join, no
        # query of its own), read from the record at every attempt, so a re-import takes effect at once.
        speakers = bool(targets) and all(tg.channel is Channel.LOUDSPEAKER for tg in targets)
        dv = t.devices.c
        columns = [
            d.delivery_id,
            d.warning_id,
            d.version,
            d.village_code,
            d.recipient,
            d.attempts,
            d.expires_at,
            d.channel,
            d.text,
            dv.sig_alg if speakers else null().label("sig_alg"),
        ]
        source = t.deliveries.outerjoin(t.devices, dv.device_id == d.recipient) if speakers else t.deliveries
        due: list[DueDelivery] = []
        async with self.engine.begin() as conn:
            for chunk in chunks(rows):
                await conn.execute(self._insert_ignore(t.deliveries), list(chunk))
            for kchunk in chunks(keys, 300):
                res = await conn.execute(
                    select(*columns)
                    .select_from(source)
                    .where(
                        tuple_(d.warning_id, d.version, d.village_code, d.channel).in_(kchunk),
                        d.state.in_(states),
                        d.expires_at > now,
                        d.attempts < max_attempts,
                        or_(d.last_attempt_at.is_(None), d.last_attempt_at <= now - resend_after),
                    )
                )
                due += [
                    DueDelivery(
                        r.delivery_id,
                        r.warning_id,
                        r.version,
                        r.village_code,
                        r.recipient,
                        r.attempts,
                        r.expires_at,
                        r.channel,
                        r.text,
                        r.sig_alg,
                    )
                    for r in res
                ]
            if not claim:
                return due
            claimed = await _claim(
                conn, [x.delivery_id for x in due], states, now, resend_after, max_attempts
            )
        return [x for x in due if x.delivery_id in claimed]

    async def claim(
        self, ids: Sequence[str], states: Sequence[str], resend_after: float, max_attempts: int
    ) -> set[str]:
        """Claim those of `ids` still due an attempt now (see claim_due); returns the ones claimed."""
        async with self.engine.begin() as conn:
            return await _claim(conn, ids, states, self.clock.now(), resend_after, max_attempts)

    async def finish_dispatch(
        self,
        sent: list[str],
        failures: dict[str, str],
        villages: Sequence[tuple[str, int, str]],
        final: dict[str, str] | None = None,
        ambiguous: dict[str, str] | None = None,
        refs: dict[str, str] | None = None,
    ) -> None:
        """Record what the channel accepted or refused, and the villages whose fan-out is done.

        `refs` (delivery id → the provider's message reference: Tencent SerialNo, WeChat MsgID…) are
        kept with the deliveries, so a receipt that names only that reference maps back (see
        PeopleQueries.deliveries_by_ref).

        `failures` stay open for the next attempt; `final` ones (an invalid number, an unknown openid)
        are failed for good, with the reason, so escalation can turn to another channel or a visit.
        `ambiguous` ones (the provider may have sent them; its lookup could not tell) are recorded as sent,
        so nothing sends them again and a later receipt still applies, with the reason kept as the flag
        for the duty room; a receipt replaces it.
        """
        now = self.clock.now()
        d = t.deliveries.c
        wv = t.warning_villages.c
        async with self.engine.begin() as conn:
            for chunk in chunks(sent):
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id.in_(chunk), d.state == DeliveryState.PENDING.value)
                    .values(state=DeliveryState.SENT.value, sent_at=now)
                )
            if ambiguous:
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id == bindparam("did"), d.state == DeliveryState.PENDING.value)
                    .values(state=DeliveryState.SENT.value, sent_at=now, reason=bindparam("why")),
                    [{"did": k, "why": v} for k, v in ambiguous.items()],
                )
            if refs:
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id == bindparam("did"))
                    .values(provider_ref=bindparam("ref")),
                    [{"did": k, "ref": v[:64]} for k, v in refs.items()],
                )
            if failures:  # refused deliveries stay open for the next attempt, with the reason visible
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id == bindparam("did"), or_(*(d.state == s for s in OPEN)))
                    .values(reason=bindparam("why")),
                    [{"did": k, "why": v} for k, v in failures.items()],
                )
            if final:
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id == bindparam("did"), or_(*(d.state == s for s in OPEN)))
                    .values(state=DeliveryState.FAILED.value, reason=bindparam("why")),
                    [{"did": k, "why": v} for k, v in final.items()],
                )
            for vchunk in chunks(list(villages), 300):
                await conn.execute(
                    update(t.warning_villages)
                    .where(tuple_(wv.warning_id, wv.version, wv.village_code).in_(vchunk))
                    .values(state="dispatched", updated_at=now)
                )

    async def apply_acks(
        self,
        acks: list[SpeakerAck],
        played: list[AckTiming] | None = None,
        mismatched: list[tuple[SpeakerAck, str]] | None = None,
    ) -> dict[str, int]:
        """Apply terminal acks; returns counts by verdict (applied, duplicate, stale, unknown_delivery,
        device_mismatch).

        A delivery only moves forward (received < playing < played); final states never change. An ack is
        applied only from the delivery's own terminal: the device of the ack's topic (`device_id`, set by
        `parse_ack`) must be the recipient of a loudspeaker delivery. Any other ack is `device_mismatch`:
        never applied, nor kept in `acks` (where it would take the place of the genuine ack's evidence);
        `mismatched`, when given, receives each with the delivery's recipient, for the caller to
        dead-letter. `played`, when given, receives the timing of each delivery this call moved to played.
        """
        counts = {"applied": 0, "duplicate": 0, "stale": 0, "unknown_delivery": 0, "device_mismatch": 0}
        if not acks:
            return counts
        acks = [by_delivery(a) for a in acks]
        now = self.clock.now()
        async with self.engine.begin() as conn:
            targets = await self._ack_targets(conn, sorted({a.cmd_id for a in acks}))
            ack_rows, moves = judge(acks, targets, now, counts, mismatched)
            await self._record_acks(conn, ack_rows, counts)
            if moves:
                await _move_forward(conn, moves)
        if played is not None:
            for k, v in moves.items():
                timing = targets[k].timing
                if v[0] == DeliveryState.PLAYED.value and timing is not None:
                    channel, severity, sent_at, accepted_at = timing
                    played.append(AckTiming(channel, severity, sent_at, accepted_at, now))
        return counts

    async def _ack_targets(self, conn: AsyncConnection, ids: list[str]) -> dict[str, AckTarget]:
        """Each acked delivery that exists: its state, channel, recipient and, when its warning is known,
        (channel, severity, sent_at, received_at)."""
        d, w = t.deliveries.c, t.warnings.c
        targets: dict[str, AckTarget] = {}
        for chunk in chunks(ids):
            res = await conn.execute(
                select(d.delivery_id, d.state, d.channel, d.recipient, d.sent_at, w.severity, w.received_at)
                .join_from(
                    t.deliveries,
                    t.warnings,
                    and_(w.warning_id == d.warning_id, w.version == d.version),
                    isouter=True,  # an ack's verdict must not depend on the join
                )
                .where(d.delivery_id.in_(chunk))
            )
            for r in res:
                timing = (
                    (r.channel, r.severity, r.sent_at, r.received_at) if r.received_at is not None else None
                )
                targets[r.delivery_id] = AckTarget(r.state, r.channel, r.recipient, timing)
        return targets

    async def _record_acks(
        self, conn: AsyncConnection, ack_rows: list[dict[str, Any]], counts: dict[str, int]
    ) -> None:
        """Keep every ack as evidence; one seen before is counted a duplicate, the rest by verdict."""
        for chunk in chunks(ack_rows):
            res = await conn.execute(
                self._insert_ignore(t.acks).returning(t.acks.c.delivery_id, t.acks.c.state, t.acks.c.verdict),
                list(chunk),
            )
            inserted = res.all()
            counts["duplicate"] += len(chunk) - len(inserted)
            for r in inserted:
                counts[r.verdict] += 1

    async def expire_deliveries(self) -> int:
        """Close, with a reason, deliveries whose command expired without a final ack."""
        d = t.deliveries.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(t.deliveries)
                .where(d.state.in_(UNFINISHED), d.expires_at <= self.clock.now())
                .values(
                    state=DeliveryState.EXPIRED.value,
                    reason=func.coalesce(d.reason, "no final ack before expiry"),
                )
            )
            return int(res.rowcount or 0)


async def _claim(
    conn: AsyncConnection,
    ids: Sequence[str],
    states: Sequence[str],
    now: float,
    resend_after: float,
    max_attempts: int,
) -> set[str]:
    """Record an attempt on those of `ids` still due when their row is updated. On PostgreSQL two workers
    (a rebalance, the reconciler's re-emit) can select the same delivery at once; the UPDATE re-checks
    the row after the other's commit, so one of them claims it."""
    d = t.deliveries.c
    person = d.channel != Channel.LOUDSPEAKER.value
    unknown = and_(person, d.attempts > 0, d.state == DeliveryState.PENDING.value, d.reason.is_(None))
    claimed: set[str] = set()
    for chunk in chunks(list(ids)):
        res = await conn.execute(
            update(t.deliveries)
            .where(
                d.delivery_id.in_(chunk),
                d.state.in_(states),
                d.expires_at > now,
                d.attempts < max_attempts,
                or_(d.last_attempt_at.is_(None), d.last_attempt_at <= now - resend_after),
            )
            .values(
                attempts=d.attempts + 1,
                last_attempt_at=now,
                # The new attempt's outcome will say; none recorded by the next claim: it is unknown.
                reason=case((person, null()), else_=d.reason),
                possible_duplicates=d.possible_duplicates + case((unknown, 1), else_=0),
            )
            .returning(d.delivery_id)
        )
        claimed.update(r.delivery_id for r in res)
    return claimed


async def _move_forward(conn: AsyncConnection, moves: dict[str, tuple[str, float, str | None]]) -> None:
    """Move each delivery to its new (state, acked_at, reason), unless it became final meanwhile."""
    d = t.deliveries.c
    stmt = (
        update(t.deliveries)
        # Plain != terms, not NOT IN: expanding IN lists cannot go into an executemany.
        .where(d.delivery_id == bindparam("did"), *(d.state != s.value for s in _final()))
        .values(state=bindparam("st"), acked_at=bindparam("at"), reason=bindparam("why"))
    )
    params = [{"did": k, "st": v[0], "at": v[1], "why": v[2]} for k, v in moves.items()]
    await conn.execute(stmt, params)


def _final() -> list[DeliveryState]:
    return [s for s in DeliveryState if s.final]
