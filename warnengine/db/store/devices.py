"""Terminal health: status reports, results, silent terminals, offline lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update

from warnengine.db import tables as t
from warnengine.db.store.base import UNFINISHED, StoreBase, chunks
from warnengine.model import (
    Channel,
)
from warnengine.model.records import DeviceChange


class DeviceQueries(StoreBase):
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
            for chunk in chunks(sorted(latest)):
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

    async def registered_villages(self, device_ids: Sequence[str]) -> dict[str, str]:
        """device id → its village (cell code), for those of `device_ids` in the directory."""
        dv = t.devices.c
        out: dict[str, str] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(device_ids))):
                res = await conn.execute(select(dv.device_id, dv.cell_code).where(dv.device_id.in_(chunk)))
                out.update({r.device_id: r.cell_code for r in res})
        return out

    async def record_device_results(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        """Acks (device_id, state, reason) seen: proof of life; final states become the last result."""
        if not results:
            return
        now = self.clock.now()
        dv = t.devices.c
        final = {d: (s, r) for d, s, r in results if s in ("played", "failed", "rejected")}
        async with self.engine.begin() as conn:
            for chunk in chunks(sorted({d for d, _, _ in results})):
                await conn.execute(update(t.devices).where(dv.device_id.in_(chunk)).values(last_seen=now))
            if final:
                await conn.execute(
                    update(t.devices)
                    .where(dv.device_id == bindparam("did"))
                    .values(last_result=bindparam("b_res"), last_reason=bindparam("b_why")),
                    [{"did": d, "b_res": s, "b_why": r} for d, (s, r) in final.items()],
                )

    async def sweep_silent_devices(self, silent_for: float) -> list[DeviceChange]:
        """Mark offline the terminals online but unheard for `silent_for` seconds; each is returned once.
        Not those behind the EB platform: it reports their state when it changes, it sends no heartbeat."""
        now = self.clock.now()
        dv = t.devices.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(t.devices)
                .where(dv.online.is_(True), dv.last_seen < now - silent_for, dv.provider != "eb")
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

    async def silent_villages(self) -> int:
        """Villages that have terminals, none of them online (offline, or never heard from): a warning
        now would not be heard there."""
        dv = t.devices.c
        online = func.sum(case((dv.online.is_(True), 1), else_=0))
        villages = select(dv.cell_code).group_by(dv.cell_code).having(online == 0).subquery()
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(villages))).scalar_one())

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
            for chunk in chunks(sorted(set(village_codes))):
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
        for chunk in chunks(ids):
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
