"""Acknowledgements from people: provider receipts, replies, app acks — and what they mean per household.

A delivery moves forward only (pending < sent < delivered < acknowledged); a human acknowledgement wins
over a provider's "failed" (the person answered, so it arrived). A household is reached when every member
is accounted for (到人): each by their own answer, or one answer counting the household ("收到，全家4人");
the evidence (the last delivery answered) and the time are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import TextClause, and_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.db.store.orgs import reach_orgs
from warnengine.db.store.persons import accounted_of, add_accounts, count_row
from warnengine.model import DeliveryState, steps
from warnengine.model.household_reply import WHOLE
from warnengine.model.records import Acknowledged

CALL_STEP = steps.CALL.start  # the step of 叫应 calls to superiors (model/steps.py)
CALL_STEPS = steps.CALL.end - steps.CALL.start  # a person's k-th 叫应 of a warning is step CALL_STEP + k
_SQLITE_CHUNK = 5000  # ids per primary-key IN lookup (SQLite allows 32,766 variables; PostgreSQL far more)
_PG_CHUNK = 20_000  # ids per PostgreSQL array parameter
# A delivery no answer changes any more (a provider's "failed" does not stop a human's answer).
_CLOSED = "'acknowledged', 'cancelled', 'expired'"
# Each delivery with its own answer's time: (id, at) pairs joined in, so a batch that gathered answers over
# minutes (a backlog after an outage) keeps every household's true time to reach.
_SQLITE_ACK = (
    "UPDATE deliveries SET state = 'acknowledged', acked_at = v.column2, reason = NULL"
    " FROM (VALUES {}) AS v WHERE deliveries.delivery_id = v.column1"
    f" AND deliveries.state NOT IN ({_CLOSED}) RETURNING deliveries.delivery_id, deliveries.warning_id,"
    " deliveries.person_id, deliveries.household_id, deliveries.channel, deliveries.acked_at"
)
_PG_ACK = text(
    "UPDATE deliveries AS d SET state = 'acknowledged', acked_at = v.at, reason = NULL"
    " FROM unnest(CAST(:ids AS text[]), CAST(:ats AS double precision[])) AS v(id, at)"
    f" WHERE d.delivery_id = v.id AND d.state NOT IN ({_CLOSED})"
    " RETURNING d.delivery_id, d.warning_id, d.person_id, d.household_id, d.channel, d.acked_at"
)
_LOOKUP_SQL = (
    "SELECT delivery_id, state, warning_id, household_id, channel FROM deliveries WHERE delivery_id {ids}"
)
# SQLite: `{}` becomes the chunk's `?` placeholders; PostgreSQL: one array parameter.
_SQLITE_LOOKUP = _LOOKUP_SQL.format(ids="IN ({})")
_PG_LOOKUP = text(_LOOKUP_SQL.format(ids="= ANY(:ids)"))
_HOUSEHOLD_RANK = {"targeted": 0, "sent": 1, "delivered": 2, "reached": 3, "unreachable": 3}


class PeopleQueries(StoreBase):
    async def apply_statuses(
        self, items: Sequence[tuple[str, DeliveryState, float, str | None]]
    ) -> dict[str, int]:
        """Provider receipts (delivery id, sent|delivered|failed, at, reason): applied forward only.
        Each UPDATE also checks the state it moves from, so a receipt read before another worker's
        acknowledgement (or a later receipt) committed cannot move that delivery back."""
        counts = {"applied": 0, "stale": 0, "unknown_delivery": 0}
        if not items:
            return counts
        async with self.engine.begin() as conn:
            current = await self._lookup(conn, sorted({i[0] for i in items}))
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
            by_state: dict[str, list[tuple[str, str | None, str]]] = {}
            for did, (st, _, reason) in sorted(moves.items()):
                by_state.setdefault(st, []).append((st, reason, did))
            for st, rows in by_state.items():
                await self.executemany(
                    conn,
                    "UPDATE deliveries SET state = ?, reason = ? WHERE delivery_id = ?"
                    f" AND state IN ({_quoted(_moves_to(DeliveryState(st)))})",
                    rows,
                )
            for st in ("sent", "delivered"):  # a household moves forward only, like its deliveries
                lower = [h for h, rank in _HOUSEHOLD_RANK.items() if rank < _HOUSEHOLD_RANK[st]]
                await self.executemany(
                    conn,
                    "UPDATE warning_households SET state = ?, updated_at = ? WHERE warning_id = ?"
                    f" AND household_id = ? AND state IN ({_quoted(lower)})",
                    sorted(
                        {
                            (st, at, current[did][1], current[did][2])
                            for did, (to, at, _) in moves.items()
                            if to == st and current[did][2]
                        },
                        key=lambda r: (r[2], r[3]),
                    ),
                )
        return counts

    async def deliveries_by_ref(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """(channel, provider reference) → (delivery id, recipient) of the deliveries a provider accepted
        under that reference (finish_dispatch's `refs`); references no delivery of that channel has are
        absent. A reference is unique per provider, the channel keeps two providers' apart."""
        d = t.deliveries.c
        out: dict[tuple[str, str], tuple[str, str]] = {}
        by_channel: dict[str, list[str]] = {}
        for channel, ref in keys:
            by_channel.setdefault(channel, []).append(ref)
        async with self.engine.connect() as conn:
            for channel, refs in sorted(by_channel.items()):
                for chunk in chunks(sorted(set(refs))):
                    query = select(d.channel, d.provider_ref, d.delivery_id, d.recipient).where(
                        d.provider_ref.in_(chunk), d.channel == channel
                    )
                    for r in await conn.execute(query):
                        out[(r.channel, r.provider_ref)] = (r.delivery_id, r.recipient)
        return out

    async def _lookup(
        self, conn: AsyncConnection, ids: Sequence[str]
    ) -> dict[str, tuple[str, str, str | None]]:
        """delivery id → (state, warning id, household id) of those among `ids` that exist."""
        rows = await self._by_ids(conn, _SQLITE_LOOKUP, _PG_LOOKUP, ids)
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    async def _by_ids(
        self,
        conn: AsyncConnection,
        sqlite_sql: str,
        pg_sql: TextClause,
        ids: Sequence[str],
        params: dict[str, Any] | None = None,
    ) -> list[Sequence[Any]]:
        """The rows of one statement over many delivery ids, in chunks. PostgreSQL: one array parameter
        `:ids` (no statement with thousands of placeholders to plan) besides `params`. SQLite: through
        the driver, `params`' values then the chunk's ids as `?` (SQLAlchemy's rendering of thousands
        of IN parameters costs more than the lookups)."""
        params = params or {}
        out: list[Sequence[Any]] = []
        if self._pg:
            for chunk in chunks(ids, _PG_CHUNK):
                out += list(await conn.execute(pg_sql, {**params, "ids": list(chunk)}))
            return out
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        for chunk in chunks(ids, _SQLITE_CHUNK):
            sql = sqlite_sql.format(", ".join("?" * len(chunk)))
            cur = await driver.execute(sql, (*params.values(), *chunk))
            out += await cur.fetchall()
            await cur.close()
        return out

    async def acknowledge(
        self, answers: Sequence[tuple[str, float]], household_counts: Mapping[str, int] | None = None
    ) -> list[Acknowledged]:
        """Mark the existing ones among the answered deliveries — (delivery id, when the person answered)
        — acknowledged (a human answered) and their households reached; returns what changed (ids that do
        not exist, or were acknowledged, cancelled or expired before, change nothing). One transaction, in
        which each delivery is found and moved by one UPDATE … RETURNING: two workers acknowledging the
        same delivery count it once. A delivery answered twice in the batch keeps the earlier answer.
        `household_counts`: delivery id → persons of the household the answer counts ("收到，全家4人";
        `WHOLE`, 0: every member — model/household_reply.py)."""
        first: dict[str, float] = {}
        for did, at in answers:
            if did not in first or at < first[did]:
                first[did] = at
        if not first:
            return []
        async with self.engine.begin() as conn:
            done = [
                Acknowledged(r[0], r[1], r[2], r[3], r[4], float(r[5]))
                for r in await self._answer(conn, sorted(first.items()))
            ]
            homes = _latest_per_household(done)
            if homes or household_counts:
                await self._account_senders(conn, done)
                if household_counts:
                    # A count sent after the sender's own answer ("1", then "全家") still counts.
                    again = await self._answered_before(conn, household_counts, done, first)
                    await _count_households(conn, [*done, *again], household_counts)
                    for a in again:
                        assert a.household_id is not None
                        homes.setdefault((a.warning_id, a.household_id), a)
                await self._reach_full(conn, homes)
            await reach_orgs(conn, done)  # an org's delivery acknowledged: the org is reached (issue 17)
        return done

    async def _account_senders(self, conn: AsyncConnection, done: Sequence[Acknowledged]) -> None:
        """到人 (issue 17): an ack accounts for the person who sent it (db/store/persons.py). Through the
        driver, as the household UPDATE: the hot path of a county's answers."""
        await self.executemany(
            conn,
            "INSERT INTO person_accounts (warning_id, household_id, person_key, persons, how, at, by)"
            " VALUES (?, ?, ?, 1, 'ack', ?, ?) ON CONFLICT DO NOTHING",
            [
                (a.warning_id, a.household_id, a.person_id, a.at, a.delivery_id)
                for a in done
                if a.household_id and a.person_id
            ],
        )

    async def _reach_full(self, conn: AsyncConnection, homes: Mapping[tuple[str, str], Acknowledged]) -> None:
        """The households among `homes` whose every member is now accounted for: reached, with the answer
        that completed them as evidence."""
        full: set[tuple[str, str]] = set()
        for wid in sorted({w for w, _ in homes}):
            ids = [h for w, h in homes if w == wid]
            full |= {(wid, h) for h, (n, got) in (await accounted_of(conn, wid, ids)).items() if got >= n}
        await self.executemany(
            conn,
            "UPDATE warning_households SET state = 'reached', reached_by = ?, evidence = ?,"
            " reached_at = ?, updated_at = ? WHERE warning_id = ? AND household_id = ?"
            " AND state != 'reached'",
            [
                (a.channel, a.delivery_id, a.at, a.at, w, h)
                for (w, h), a in sorted(homes.items())
                if (w, h) in full
            ],
        )

    async def _answered_before(
        self,
        conn: AsyncConnection,
        household_counts: Mapping[str, int],
        done: Sequence[Acknowledged],
        first: Mapping[str, float],
    ) -> list[Acknowledged]:
        """The counted deliveries acknowledged before this batch (at this answer's time)."""
        moved = {a.delivery_id for a in done}
        ids = sorted(d for d in household_counts if d in first and d not in moved)
        rows = await self._by_ids(conn, _SQLITE_LOOKUP, _PG_LOOKUP, ids) if ids else []
        return [
            Acknowledged(r[0], r[2], None, r[3], r[4], first[r[0]])
            for r in rows
            if r[1] == DeliveryState.ACKNOWLEDGED.value and r[3]
        ]

    async def _answer(self, conn: AsyncConnection, pairs: Sequence[tuple[str, float]]) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = []
        if self._pg:
            for chunk in chunks(pairs, _PG_CHUNK):
                ids, ats = [p[0] for p in chunk], [p[1] for p in chunk]
                out += list(await conn.execute(_PG_ACK, {"ids": ids, "ats": ats}))
            return out
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        for chunk in chunks(pairs, _SQLITE_CHUNK):
            cur = await driver.execute(
                _SQLITE_ACK.format(", ".join(["(?, ?)"] * len(chunk))), [x for p in chunk for x in p]
            )
            out += await cur.fetchall()
            await cur.close()
        return out

    async def record_unapplied(self, items: Sequence[tuple[str, float]]) -> dict[str, int]:
        """Acknowledgements by delivery id that changed nothing, kept in `acks` with why: the delivery
        does not exist (`unknown_delivery`), was acknowledged already (`duplicate`), or was closed
        (`closed`: cancelled — a late answer after a Cancel —, superseded or expired). One row per
        delivery and state, so a repeated stray ack is recorded once and never counted twice."""
        counts = {"unknown_delivery": 0, "duplicate": 0, "closed": 0}
        if not items:
            return counts
        now = self.clock.now()
        async with self.engine.begin() as conn:
            current = await self._lookup(conn, sorted({did for did, _ in items}))
            rows = []
            for did, at in items:
                state = current[did][0] if did in current else None
                verdict = (
                    "unknown_delivery"
                    if state is None
                    else "duplicate"
                    if state == DeliveryState.ACKNOWLEDGED.value
                    else "closed"
                )
                counts[verdict] += 1
                reason = f"acknowledged, but the delivery {'is ' + state if state else 'does not exist'}"
                rows.append(
                    {
                        "delivery_id": did[:32],
                        "state": "acknowledged",
                        "reason": reason,
                        "at": at,
                        "received_at": now,
                        "verdict": verdict,
                    }
                )
            for chunk in chunks(rows):
                await conn.execute(self._insert_ignore(t.acks), list(chunk))
        return counts

    async def recent_versions(self, since: float) -> list[tuple[str, int, tuple[int, ...]]]:
        """Warning versions resolved since `since` and still live, each with the steps that sent messages
        (0, the ladder steps that ran, and 50… when superiors were called: a 叫应 target's k-th is
        50 + k): what a reply can answer.
        One query: it runs once per batch of acknowledgements."""
        w, s, c = t.warnings.c, t.escalation_steps.c, t.staff_calls.c
        called = select(c.warning_id).where(c.warning_id == w.warning_id).exists()
        query = (
            select(w.warning_id, w.version, s.step, called.label("called"))
            .select_from(
                t.warnings.outerjoin(
                    t.escalation_steps, and_(s.warning_id == w.warning_id, s.version == w.version)
                )
            )
            .where(w.state == "resolved", w.resolved_at >= since)
        )
        by_version: dict[tuple[str, int], set[int]] = {}
        async with self.engine.connect() as conn:
            for r in await conn.execute(query):
                have = by_version.setdefault((r.warning_id, r.version), {0})
                if r.step is not None:
                    have.add(r.step)
                if r.called:
                    have.update(range(CALL_STEP, CALL_STEP + CALL_STEPS))
        return [(wid, v, tuple(sorted(st))) for (wid, v), st in by_version.items()]


def _moves_to(state: DeliveryState) -> list[str]:
    """The states a receipt may move a delivery from to `state`: open ones of a lower rank."""
    return [s.value for s in DeliveryState if not s.final and s.rank < state.rank]


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


async def _count_households(
    conn: AsyncConnection, done: Sequence[Acknowledged], household_counts: Mapping[str, int]
) -> None:
    """The household counts the acknowledged answers carry, as count rows (how `reply`; at most the
    household's members, all of them for 全家); a larger count later wins (add_accounts)."""
    counted = [a for a in done if a.household_id and a.delivery_id in household_counts]
    rows = []
    for wid in sorted({a.warning_id for a in counted}):
        mine = [a for a in counted if a.warning_id == wid]
        members = await accounted_of(conn, wid, [a.household_id for a in mine if a.household_id])
        for a in mine:
            assert a.household_id is not None
            size = members[a.household_id][0]
            n = household_counts[a.delivery_id]
            persons = size if n == WHOLE else min(n, size)
            rows.append(count_row(wid, a.household_id, persons, "reply", a.at, a.delivery_id))
    await add_accounts(conn, conn.dialect.name == "postgresql", rows)


def _latest_per_household(done: Sequence[Acknowledged]) -> dict[tuple[str, str], Acknowledged]:
    """(warning, household) → its latest answer among `done`: several members answering, the household is
    reached at the last one that was needed."""
    homes: dict[tuple[str, str], Acknowledged] = {}
    for a in done:
        if not a.household_id:
            continue
        k = (a.warning_id, a.household_id)
        if k not in homes or a.at > homes[k].at:
            homes[k] = a
    return homes
