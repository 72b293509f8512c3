"""Feed messages and warning versions: chains, supersession, Cancel, resolution."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store.base import UNFINISHED, StoreBase, chunks
from warnengine.model import (
    Channel,
    DeliveryState,
    HazardWarning,
    MsgType,
)

_WENT_OUT = ("sent", "delivered", "acknowledged")  # worst to best
# Of equally good deliveries, the cheapest to repeat: an app push, WeChat, then a text, a call last.
_CHANNEL_RANK = {"app": 4, "wechat": 3, "wecom": 3, "sms": 2, "voice": 1}


class WarningQueries(StoreBase):
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

    async def save_warning(self, w: HazardWarning) -> str:
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
        if state == "cancelled":  # 解除: nobody goes door to door for a warning that is over
            vt = t.visit_tasks.c
            await conn.execute(
                update(t.visit_tasks)
                .where(vt.warning_id == warning_id, vt.state.in_(("open", "accepted")))
                .values(state="cancelled", done_at=now, reason="warning cancelled")
            )

    async def villages_reached(self, warning_id: str, before_version: int) -> list[str]:
        """Villages where a command of an earlier version of this chain went out (they need `stop`)."""
        d = t.deliveries.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(d.village_code)
                .where(
                    d.warning_id == warning_id,
                    d.version < before_version,
                    d.attempts > 0,
                    d.channel == Channel.LOUDSPEAKER.value,
                )
                .distinct()
            )
            return sorted(r.village_code for r in res)

    async def people_told(self, warning_id: str, before_version: int) -> list[tuple[str, str, str, str]]:
        """(person, channel, address, village) once per person an earlier version of this chain messaged
        for themselves (not for an org: `org_recipients`), on the channel that did best — the one they
        answered on, else one delivered, else one sent: whom its Cancel tells (plan/stage.py)."""
        d, od = t.deliveries.c, ot.org_deliveries.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(d.person_id, d.channel, d.recipient, d.village_code, d.state)
                .outerjoin_from(t.deliveries, ot.org_deliveries, od.delivery_id == d.delivery_id)
                .where(
                    d.warning_id == warning_id,
                    d.version < before_version,
                    d.person_id.is_not(None),
                    d.channel != Channel.LOUDSPEAKER.value,
                    or_(d.attempts > 0, d.state.in_(_WENT_OUT)),  # one never sent was cancelled unsent
                    od.delivery_id.is_(None),
                )
            )
            best: dict[str, tuple[int, str, str, str]] = {}
            for pid, channel, addr, village, state in res:
                rank = (_WENT_OUT.index(state) if state in _WENT_OUT else -1, _CHANNEL_RANK.get(channel, 0))
                key = rank[0] * 10 + rank[1]
                if pid not in best or key > best[pid][0]:
                    best[pid] = (key, channel, addr, village)
        return sorted((pid, ch, addr, v) for pid, (_, ch, addr, v) in best.items())

    async def live_versions(self, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """The (warning_id, version) pairs still to be delivered (not superseded, not cancelled)."""
        wc = t.warnings.c
        out: set[tuple[str, int]] = set()
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(keys)), 300):
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

    async def set_resolved(self, w: HazardWarning, villages: list[str]) -> bool:
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
            for chunk in chunks(rows):
                await conn.execute(self._insert_ignore(t.warning_villages), list(chunk))
            await conn.execute(
                update(t.warnings)
                .where(wc.warning_id == w.warning_id, wc.version == w.version, wc.state == "accepted")
                .values(state="resolved", villages=len(villages), updated_at=now, resolved_at=now)
            )
            return True

    async def flag_untargeted(self, w: HazardWarning) -> bool:
        """Mark a live version whose area reaches nobody `untargeted`: never resolved, so nothing is sent.
        False when it was no longer `accepted` (superseded, cancelled, or flagged before)."""
        now = self.clock.now()
        wc = t.warnings.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(t.warnings)
                .where(wc.warning_id == w.warning_id, wc.version == w.version, wc.state == "accepted")
                .values(state="untargeted", villages=0, updated_at=now)
            )
        return bool(res.rowcount)
