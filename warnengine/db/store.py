"""Every read and write the stages make. Each write is idempotent: redelivered events change nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from warnengine.clock import Clock
from warnengine.db import tables as t
from warnengine.model import (
    Cell,
    Channel,
    DeliveryState,
    Device,
    Household,
    MsgType,
    Person,
    SpeakerAck,
    Warning,
)
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


@dataclass(frozen=True)
class AckTiming:
    """A delivery newly acknowledged as played, for time-to-ack metrics (engine clock throughout)."""

    channel: str
    severity: str
    sent_at: float | None
    accepted_at: float
    played_at: float


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

    async def save_warning(self, w: Warning) -> str:
        """Record a warning version within its chain; returns what the pipeline should do with it.

        "new": the newest version of a live chain; older versions are superseded (their open
        deliveries cancelled). "duplicate": this version was recorded before (redelivery).
        "superseded": a newer version or a Cancel is already recorded (out-of-order arrival): recorded,
        never broadcast. "cancel": a Cancel; every version of the chain stops.
        """
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
        wc = t.warnings.c
        async with self.engine.begin() as conn:
            res = await conn.execute(self._insert_ignore(t.warnings), row)
            if not res.rowcount:
                return "duplicate"
            others = (
                await conn.execute(
                    select(wc.version, wc.msg_type, wc.state).where(
                        wc.warning_id == w.warning_id, wc.version != w.version
                    )
                )
            ).all()
            if w.msg_type == MsgType.CANCEL:
                # The Cancel itself stays live: it travels on as `stop` commands to the terminals reached.
                await self._stop_versions(conn, w.warning_id, [o.version for o in others], "cancelled", now)
                return "cancel"
            if any(o.version > w.version or o.msg_type == MsgType.CANCEL.value for o in others):
                await self._set_state(conn, w.warning_id, w.version, "superseded", now)
                return "superseded"
            older = [o.version for o in others if o.state not in ("superseded", "cancelled")]
            await self._stop_versions(conn, w.warning_id, older, "superseded", now)
            return "new"

    async def _set_state(
        self, conn: AsyncConnection, warning_id: str, version: int, state: str, now: float
    ) -> None:
        wc = t.warnings.c
        await conn.execute(
            update(t.warnings)
            .where(wc.warning_id == warning_id, wc.version == version)
            .values(state=state, updated_at=now)
        )

    async def _stop_versions(
        self, conn: AsyncConnection, warning_id: str, versions: list[int], state: str, now: float
    ) -> None:
        """Stop older versions: their pending villages and unfinished deliveries are closed with a reason."""
        if not versions:
            return
        wc, wv, d = t.warnings.c, t.warning_villages.c, t.deliveries.c
        await conn.execute(
            update(t.warnings)
            .where(wc.warning_id == warning_id, wc.version.in_(versions))
            .values(state=state, updated_at=now)
        )
        await conn.execute(
            update(t.warning_villages)
            .where(wv.warning_id == warning_id, wv.version.in_(versions), wv.state == "pending")
            .values(state=state, updated_at=now)
        )
        await conn.execute(
            update(t.deliveries)
            .where(d.warning_id == warning_id, d.version.in_(versions), d.state.in_(UNFINISHED))
            .values(state=DeliveryState.CANCELLED.value, reason=f"warning {state}")
        )

    async def villages_reached(self, warning_id: str, before_version: int) -> list[str]:
        """Villages where a command of an earlier version of this chain went out (they need `stop`)."""
        d = t.deliveries.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(d.village_code)
                .where(d.warning_id == warning_id, d.version < before_version, d.attempts > 0)
                .distinct()
            )
            return sorted(r.village_code for r in res)

    async def live_versions(self, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """The (warning_id, version) pairs still to be delivered (not superseded, not cancelled)."""
        wc = t.warnings.c
        out: set[tuple[str, int]] = set()
        async with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(keys)), 300):
                res = await conn.execute(
                    select(wc.warning_id, wc.version).where(
                        tuple_(wc.warning_id, wc.version).in_(chunk), wc.state.in_(("accepted", "resolved"))
                    )
                )
                out |= {(r.warning_id, r.version) for r in res}
        return out

    async def warning_state(self, warning_id: str, version: int) -> str | None:
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(t.warnings.c.state).where(
                    t.warnings.c.warning_id == warning_id, t.warnings.c.version == version
                )
            )
            return res.scalar_one_or_none()

    async def set_resolved(self, w: Warning, villages: list[str]) -> bool:
        """Record the villages a live warning version reaches and mark it resolved (one transaction).

        False, recording nothing, when the version was superseded or cancelled meanwhile.
        """
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
        wc = t.warnings.c
        async with self.engine.begin() as conn:
            state = (
                await conn.execute(
                    select(wc.state).where(wc.warning_id == w.warning_id, wc.version == w.version)
                )
            ).scalar_one_or_none()
            if state not in ("accepted", "resolved"):
                return False
            for chunk in _chunks(rows):
                await conn.execute(self._insert_ignore(t.warning_villages), list(chunk))
            await conn.execute(
                update(t.warnings)
                .where(wc.warning_id == w.warning_id, wc.version == w.version, wc.state == "accepted")
                .values(state="resolved", villages=len(villages), updated_at=now)
            )
            return True

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

    async def apply_acks(
        self, acks: list[SpeakerAck], played: list[AckTiming] | None = None
    ) -> dict[str, int]:
        """Apply terminal acks; returns counts by verdict (applied, duplicate, stale, unknown_delivery).

        A delivery only moves forward (received < playing < played); final states never change.
        `played`, when given, receives the timing of each delivery this call moved to played.
        """
        counts = {"applied": 0, "duplicate": 0, "stale": 0, "unknown_delivery": 0}
        if not acks:
            return counts
        now = self.clock.now()
        d = t.deliveries.c
        ids = sorted({a.cmd_id for a in acks})
        async with self.engine.begin() as conn:
            current: dict[str, str] = {}
            timing: dict[str, tuple[str, str, float | None, float]] = {}
            w = t.warnings.c
            for chunk in _chunks(ids):
                res = await conn.execute(
                    select(d.delivery_id, d.state, d.channel, d.sent_at, w.severity, w.received_at)
                    .join_from(
                        t.deliveries,
                        t.warnings,
                        and_(w.warning_id == d.warning_id, w.version == d.version),
                        isouter=True,  # an ack's verdict must not depend on the join
                    )
                    .where(d.delivery_id.in_(chunk))
                )
                for r in res:
                    current[r.delivery_id] = r.state
                    if r.received_at is not None:
                        timing[r.delivery_id] = (r.channel, r.severity, r.sent_at, r.received_at)
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
                    if new == DeliveryState.REJECTED and cur.rank >= DeliveryState.RECEIVED.rank:
                        # The terminal took this command already: a later rejection is about another copy
                        # (a replay, a forgery), kept in the acks table as evidence, not the delivery's fate.
                        verdict = "stale"
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
        if played is not None:
            for k, v in moves.items():
                if v[0] == DeliveryState.PLAYED.value and k in timing:
                    channel, severity, sent_at, accepted_at = timing[k]
                    played.append(AckTiming(channel, severity, sent_at, accepted_at, now))
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

    async def accepted_at(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], float]:
        """When the engine accepted each warning version (for fan-out latency)."""
        w = t.warnings.c
        out: dict[tuple[str, int], float] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(keys))):
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

    # -- device health (warnengine/devices) ------------------------------------------------------------
    # Terminal status and results. last_seen is the engine's clock: a terminal's own clock may be wrong,
    # and the broker publishes a Last Will with no time of its own.

    async def record_device_status(
        self, rows: Sequence[dict[str, Any]]
    ) -> tuple[list[DeviceChange], list[str]]:
        """Apply status reports (keys: device_id, online, volume, playing, firmware, reason).

        In arrival order, the last per device wins. Returns the devices whose online state changed (offline
        ones with the warnings still open for them) and the ids that are not in the registry. Every worker
        may see the same report: a change is claimed by a guarded UPDATE, so only one reports it.
        """
        now = self.clock.now()
        latest = {r["device_id"]: r for r in rows}
        dv = t.devices.c
        changes: list[DeviceChange] = []
        async with self.engine.begin() as conn:
            known: dict[str, Any] = {}
            for chunk in _chunks(sorted(latest)):
                res = await conn.execute(select(dv.device_id, dv.online).where(dv.device_id.in_(chunk)))
                known.update({r.device_id: r.online for r in res})
            for did, prev in known.items():
                r = latest[did]
                online = bool(r["online"])
                if prev is not None and bool(prev) == online:
                    continue
                claimed = await conn.execute(
                    update(t.devices)
                    .where(dv.device_id == did, or_(dv.online.is_(None), dv.online != online))
                    .values(
                        online=online,
                        offline_since=None if online else now,
                        offline_reason=None if online else r.get("reason"),
                    )
                    .returning(dv.cell_code)
                )
                village = claimed.scalar_one_or_none()
                if village is not None:
                    changes.append(DeviceChange(did, village, online, r.get("reason")))
            params = [
                {
                    "did": did,
                    "b_volume": latest[did].get("volume"),
                    "b_playing": latest[did].get("playing") if latest[did]["online"] else None,
                    "b_firmware": latest[did].get("firmware"),
                }
                for did in known
            ]
            if params:
                await conn.execute(
                    update(t.devices)
                    .where(dv.device_id == bindparam("did"))
                    .values(
                        volume=func.coalesce(bindparam("b_volume"), dv.volume),
                        playing=bindparam("b_playing"),
                        firmware=func.coalesce(bindparam("b_firmware"), dv.firmware),
                        last_seen=now,
                    ),
                    params,
                )
            changes = await self._with_open_warnings(conn, changes, now)
        return changes, sorted(set(latest) - set(known))

    async def record_device_results(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        """Acks (device_id, state, reason) seen: proof of life; final states become the last result."""
        if not results:
            return
        now = self.clock.now()
        dv = t.devices.c
        final = {d: (s, r) for d, s, r in results if s in ("played", "failed", "rejected")}
        async with self.engine.begin() as conn:
            for chunk in _chunks(sorted({d for d, _, _ in results})):
                await conn.execute(update(t.devices).where(dv.device_id.in_(chunk)).values(last_seen=now))
            if final:
                await conn.execute(
                    update(t.devices)
                    .where(dv.device_id == bindparam("did"))
                    .values(last_result=bindparam("b_res"), last_reason=bindparam("b_why")),
                    [{"did": d, "b_res": s, "b_why": r} for d, (s, r) in final.items()],
                )

    async def sweep_silent_devices(self, silent_for: float) -> list[DeviceChange]:
        """Mark offline the terminals online but unheard for `silent_for` seconds; each is returned once."""
        now = self.clock.now()
        dv = t.devices.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(t.devices)
                .where(dv.online.is_(True), dv.last_seen < now - silent_for)
                .values(online=False, playing=None, offline_since=now, offline_reason="silent")
                .returning(dv.device_id, dv.cell_code)
            )
            changes = [DeviceChange(r.device_id, r.cell_code, False, "silent") for r in res]
            return await self._with_open_warnings(conn, changes, now)

    async def device_health_counts(self) -> dict[str, int]:
        """Terminals by state: online, offline, unknown (never heard from)."""
        dv = t.devices.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(dv.online, func.count()).group_by(dv.online))
            counts = {"online": 0, "offline": 0, "unknown": 0}
            for online, n in res:
                counts["unknown" if online is None else "online" if online else "offline"] += int(n)
            return counts

    async def offline_devices(self, village_codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Offline terminals (of these villages): who must be reached another way."""
        dv = t.devices.c
        q = select(
            dv.device_id, dv.cell_code, dv.last_seen, dv.offline_since, dv.offline_reason, dv.last_result
        ).where(dv.online.is_(False))
        async with self.engine.connect() as conn:
            if village_codes is None:
                return [dict(r._mapping) for r in await conn.execute(q.order_by(dv.device_id))]
            out: list[dict[str, Any]] = []
            for chunk in _chunks(sorted(set(village_codes))):
                res = await conn.execute(q.where(dv.cell_code.in_(chunk)).order_by(dv.device_id))
                out += [dict(r._mapping) for r in res]
            return out

    async def _with_open_warnings(
        self, conn: Any, changes: list[DeviceChange], now: float
    ) -> list[DeviceChange]:
        """Attach, to terminals that went offline, the warnings they had not finished, and write the
        audit row in the same transaction as the change: reported exactly once, whichever worker saw it."""
        ids = [c.device_id for c in changes if not c.online]
        if not ids:
            return changes
        d = t.deliveries.c
        found: dict[str, set[str]] = {}
        for chunk in _chunks(ids):
            res = await conn.execute(
                select(d.recipient, d.warning_id)
                .where(
                    d.channel == Channel.LOUDSPEAKER.value,
                    d.recipient.in_(chunk),
                    d.state.in_(UNFINISHED),
                    d.expires_at > now,
                )
                .distinct()
            )
            for r in res:
                found.setdefault(r.recipient, set()).add(r.warning_id)
        out = [
            DeviceChange(c.device_id, c.village_code, c.online, c.reason, tuple(sorted(found[c.device_id])))
            if c.device_id in found
            else c
            for c in changes
        ]
        audit = [
            {
                "at": now,
                "actor": "devices",
                "action": "terminal_offline",
                "subject": c.device_id,
                "detail": json.dumps(
                    {"village": c.village_code, "reason": c.reason, "open_warnings": list(c.open_warnings)}
                ),
            }
            for c in out
            if not c.online
        ]
        await conn.execute(t.audit_log.insert(), audit)
        return out

    # -- end of device health ----------------------------------------------------------------------------


def _final() -> list[DeliveryState]:
    return [s for s in DeliveryState if s.final]


# -- device health ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceChange:
    """A terminal whose online state changed; offline ones carry the warnings still open for them."""

    device_id: str
    village_code: str
    online: bool
    reason: str | None  # why offline: will | shutdown | silent | offline
    open_warnings: tuple[str, ...] = ()
