"""Every read and write the stages make. Each write is idempotent: redelivered events change nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from warnengine.clock import Clock
from warnengine.db import tables as t
from warnengine.model import Cell, Channel, DeliveryState, Device, Household, Person, SpeakerAck, Warning
from warnengine.model.delivery import delivery_id

OPEN = (DeliveryState.PENDING.value, DeliveryState.SENT.value)
UNFINISHED = (*OPEN, DeliveryState.RECEIVED.value, DeliveryState.PLAYING.value)
_CHUNK = 500  # bound IN-lists and executemany batches (SQLite's variable limit)


@dataclass(frozen=True)
class VillageTarget:
    """One village's recipients on one channel for one warning version."""

    warning_id: str
    version: int
    village_code: str
    channel: Channel
    recipients: list[str]
    expires_at: float


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: str
    warning_id: str
    version: int
    village_code: str
    recipient: str
    attempts: int
    expires_at: float


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


class Store:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"

    def _insert_ignore(self, table: Table) -> Any:
        ins = postgresql.insert(table) if self._pg else sqlite.insert(table)
        return ins.on_conflict_do_nothing()

    def _upsert(self, table: Table, key: list[str], rows: list[dict[str, Any]]) -> Any:
        ins = postgresql.insert(table) if self._pg else sqlite.insert(table)
        cols = {c: getattr(ins.excluded, c) for c in rows[0] if c not in key}
        return ins.on_conflict_do_update(index_elements=key, set_=cols)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- directory ---------------------------------------------------------------------------------

    async def import_directory(
        self, cells: list[Cell], households: list[Household], people: list[Person], devices: list[Device]
    ) -> None:
        """Load or update a county's directory in place (re-import overwrites by id)."""
        batches: list[tuple[Table, str, list[dict[str, Any]]]] = [
            (t.cells, "code", [{**c.model_dump(), "geometry": json.dumps(c.geometry)} for c in cells]),
            (t.households, "household_id", [h.model_dump() for h in households]),
            (t.people, "person_id", [p.model_dump(mode="json") for p in people]),
            (t.devices, "device_id", [d.model_dump() for d in devices]),
        ]
        async with self.engine.begin() as conn:
            for table, key, rows in batches:
                for chunk in _chunks(rows, 2000):
                    await conn.execute(self._upsert(table, [key], list(chunk)), list(chunk))

    async def villages(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(code, name, GeoJSON geometry) of every village cell."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.cells.c.code, t.cells.c.name, t.cells.c.geometry).where(t.cells.c.level == "village")
            )
            return [(r.code, r.name, json.loads(r.geometry)) for r in rows]

    async def devices_by_village(self, village_codes: Sequence[str]) -> dict[str, list[str]]:
        """Terminal ids per village (villages without terminals map to [])."""
        out: dict[str, list[str]] = {v: [] for v in village_codes}
        async with self.engine.connect() as conn:
            for chunk in _chunks(sorted(out)):
                rows = await conn.execute(
                    select(t.devices.c.device_id, t.devices.c.cell_code)
                    .where(t.devices.c.cell_code.in_(chunk))
                    .order_by(t.devices.c.device_id)
                )
                for r in rows:
                    out[r.cell_code].append(r.device_id)
        return out

    async def device_villages(self) -> dict[str, str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.devices.c.device_id, t.devices.c.cell_code))
            return {r.device_id: r.cell_code for r in rows}

    # -- feed and warnings -------------------------------------------------------------------------

    async def record_feed(
        self,
        digest: str,
        source: str,
        verdict: str,
        warning_id: str | None = None,
        version: int | None = None,
    ) -> bool:
        """Remember a feed message by content hash; False when it was seen before."""
        row = {
            "digest": digest,
            "source": source,
            "received_at": self.clock.now(),
            "verdict": verdict,
            "warning_id": warning_id,
            "version": version,
        }
        async with self.engine.begin() as conn:
            res = await conn.execute(self._insert_ignore(t.feed_messages), row)
            return bool(res.rowcount)

    async def save_warning(self, w: Warning) -> bool:
        """Insert a warning version; False when (warning_id, version) is already recorded."""
        now = self.clock.now()
        row = {
            "warning_id": w.warning_id,
            "version": w.version,
            "sender": w.sender,
            "identifier": w.identifier,
            "sent": w.sent.timestamp(),
            "msg_type": w.msg_type.value,
            "status": w.status.value,
            "hazard": w.hazard.value,
            "severity": w.severity.value,
            "event": w.event,
            "expires": w.expires.timestamp() if w.expires else None,
            "body": w.model_dump_json(),
            "state": "accepted",
            "received_at": now,
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            res = await conn.execute(self._insert_ignore(t.warnings), row)
            return bool(res.rowcount)

    async def warning_state(self, warning_id: str, version: int) -> str | None:
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(t.warnings.c.state).where(
                    t.warnings.c.warning_id == warning_id, t.warnings.c.version == version
                )
            )
            return res.scalar_one_or_none()

    async def set_resolved(self, w: Warning, villages: list[str]) -> None:
        """Record the villages a warning version reaches, then mark it resolved (one transaction)."""
        now = self.clock.now()
        rows = [
            {
                "warning_id": w.warning_id,
                "version": w.version,
                "village_code": v,
                "state": "pending",
                "updated_at": now,
            }
            for v in villages
        ]
        async with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                await conn.execute(self._insert_ignore(t.warning_villages), list(chunk))
            await conn.execute(
                update(t.warnings)
                .where(
                    t.warnings.c.warning_id == w.warning_id,
                    t.warnings.c.version == w.version,
                    t.warnings.c.state == "accepted",
                )
                .values(state="resolved", villages=len(villages), updated_at=now)
            )

    # -- deliveries --------------------------------------------------------------------------------

    async def claim_due(
        self, targets: Sequence[VillageTarget], resend_after: float, max_attempts: int
    ) -> list[DueDelivery]:
        """Create the deliveries of these villages if missing, and claim those due an attempt now.

        One transaction for a whole batch of villages. Due: not yet acknowledged, not expired, never tried
        or last tried `resend_after` ago. Claiming records the attempt before any send (design decision 2),
        so a task Kafka redelivers right after a crash does not re-send what just went out; the
        reconciler re-sends it once `resend_after` has passed without an ack.
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
        keys = sorted({(tg.warning_id, tg.version, tg.village_code) for tg in targets})
        due: list[DueDelivery] = []
        async with self.engine.begin() as conn:
            for chunk in _chunks(rows):
                await conn.execute(self._insert_ignore(t.deliveries), list(chunk))
            for kchunk in _chunks(keys, 300):
                res = await conn.execute(
                    select(
                        d.delivery_id,
                        d.warning_id,
                        d.version,
                        d.village_code,
                        d.recipient,
                        d.attempts,
                        d.expires_at,
                    ).where(
                        tuple_(d.warning_id, d.version, d.village_code).in_(kchunk),
                        d.state.in_(OPEN),
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
                    )
                    for r in res
                ]
            for ichunk in _chunks([x.delivery_id for x in due]):
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id.in_(ichunk))
                    .values(attempts=d.attempts + 1, last_attempt_at=now)
                )
        return due

    async def finish_dispatch(
        self, sent: list[str], failures: dict[str, str], villages: Sequence[tuple[str, int, str]]
    ) -> None:
        """Record what the channel accepted or refused, and the villages whose fan-out is done."""
        now = self.clock.now()
        d = t.deliveries.c
        wv = t.warning_villages.c
        async with self.engine.begin() as conn:
            for chunk in _chunks(sent):
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id.in_(chunk), d.state == DeliveryState.PENDING.value)
                    .values(state=DeliveryState.SENT.value, sent_at=now)
                )
            if failures:  # refused deliveries stay open for the next attempt, with the reason visible
                await conn.execute(
                    update(t.deliveries)
                    .where(d.delivery_id == bindparam("did"), or_(*(d.state == s for s in OPEN)))
                    .values(reason=bindparam("why")),
                    [{"did": k, "why": v} for k, v in failures.items()],
                )
            for vchunk in _chunks(list(villages), 300):
                await conn.execute(
                    update(t.warning_villages)
                    .where(tuple_(wv.warning_id, wv.version, wv.village_code).in_(vchunk))
                    .values(state="dispatched", updated_at=now)
                )

    async def apply_acks(self, acks: list[SpeakerAck]) -> dict[str, int]:
        """Apply terminal acks; returns counts by verdict (applied, duplicate, stale, unknown_delivery).

        A delivery only moves forward (received < playing < played); final states never change.
        """
        counts = {"applied": 0, "duplicate": 0, "stale": 0, "unknown_delivery": 0}
        if not acks:
            return counts
        now = self.clock.now()
        d = t.deliveries.c
        ids = sorted({a.cmd_id for a in acks})
        async with self.engine.begin() as conn:
            current: dict[str, str] = {}
            for chunk in _chunks(ids):
                res = await conn.execute(select(d.delivery_id, d.state).where(d.delivery_id.in_(chunk)))
                current.update({r.delivery_id: r.state for r in res})
            ack_rows = []
            moves: dict[str, tuple[str, float, str | None]] = {}
            for a in acks:
                state = current.get(a.cmd_id)
                if state is None:
                    verdict = "unknown_delivery"
                else:
                    cur = DeliveryState(state)
                    new = DeliveryState(a.state.value)
                    verdict = "stale" if cur.final or new.rank <= cur.rank else "applied"
                    if verdict == "applied":
                        current[a.cmd_id] = new.value
                        moves[a.cmd_id] = (new.value, a.at, a.reason)
                ack_rows.append(
                    {
                        "delivery_id": a.cmd_id,
                        "state": a.state.value,
                        "reason": a.reason,
                        "at": a.at,
                        "received_at": now,
                        "verdict": verdict,
                    }
                )
            for chunk in _chunks(ack_rows):
                res = await conn.execute(
                    self._insert_ignore(t.acks).returning(
                        t.acks.c.delivery_id, t.acks.c.state, t.acks.c.verdict
                    ),
                    list(chunk),
                )
                inserted = res.all()
                counts["duplicate"] += len(chunk) - len(inserted)
                for r in inserted:
                    counts[r.verdict] += 1
            if moves:
                stmt = (
                    update(t.deliveries)
                    # Plain != terms, not NOT IN: expanding IN lists cannot go into an executemany.
                    .where(d.delivery_id == bindparam("did"), *(d.state != s.value for s in _final()))
                    .values(state=bindparam("st"), acked_at=bindparam("at"), reason=bindparam("why"))
                )
                params = [{"did": k, "st": v[0], "at": v[1], "why": v[2]} for k, v in moves.items()]
                await conn.execute(stmt, params)
        return counts

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

    # -- reconciler --------------------------------------------------------------------------------

    async def stale_warnings(self, before: float, limit: int = 100) -> list[Warning]:
        w = t.warnings.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(w.body).where(w.state == "accepted", w.updated_at <= before).limit(limit)
            )
            return [Warning.model_validate_json(r.body) for r in res]

    async def touch_warnings(self, keys: list[tuple[str, int]]) -> None:
        """Restart a re-emitted stage's grace period so the reconciler does not re-emit it every sweep."""
        w = t.warnings.c
        async with self.engine.begin() as conn:
            for chunk in _chunks(keys):
                await conn.execute(
                    update(t.warnings)
                    .where(tuple_(w.warning_id, w.version).in_(chunk))
                    .values(updated_at=self.clock.now())
                )

    async def unfinished_villages(
        self, before: float, resend_after: float, max_attempts: int, limit: int = 1000
    ) -> list[tuple[str, int, str]]:
        """(warning_id, version, village) whose fan-out stalled or that have deliveries due a re-send."""
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
                    d.state.in_(OPEN),
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
            for chunk in _chunks(keys):
                await conn.execute(
                    update(t.warning_villages)
                    .where(
                        tuple_(wv.warning_id, wv.version, wv.village_code).in_(chunk), wv.state == "pending"
                    )
                    .values(updated_at=self.clock.now())
                )

    async def load_warning(self, warning_id: str, version: int) -> Warning | None:
        w = t.warnings.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(w.body).where(w.warning_id == warning_id, w.version == version))
            body = res.scalar_one_or_none()
            return Warning.model_validate_json(body) if body else None

    # -- dead letters and reports ------------------------------------------------------------------

    async def dead_letter(
        self, stage: str, reason: str, detail: str, payload: bytes | str, source: str | None, key: str | None
    ) -> None:
        if isinstance(payload, bytes):
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                text = "b64:" + base64.b64encode(payload).decode()
        else:
            text = payload
        row = {
            "stage": stage,
            "reason": reason,
            "detail": detail[:4000],
            "source": source,
            "key": key,
            "payload": text,
            "created_at": self.clock.now(),
        }
        async with self.engine.begin() as conn:
            await conn.execute(t.dead_letters.insert(), row)

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


def _final() -> list[DeliveryState]:
    return [s for s in DeliveryState if s.final]
