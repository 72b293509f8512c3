"""The dispatcher API's record: users, tokens, sessions, warning drafts and approvals, audit, live reach."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, func, insert, or_, select, update

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks

# What counts as having reached someone: a terminal played it, a handset received it, a person answered.
REACHED = ("played", "delivered", "acknowledged")
FAILED = ("rejected", "failed", "expired", "cancelled")


# Households counted by state in the live status; needs_help and nobody_home are open cases (issue 17).
_COUNTED = ("reached", "needs_help", "nobody_home", "unreachable")
_HOUSEHOLD_KEYS = (
    "households",
    "households_reached",
    "households_needs_help",
    "households_nobody_home",
    "households_unreachable",
)


class ApiQueries(StoreBase):
    # -- users, tokens, sessions ------------------------------------------------------------------------

    async def add_user(
        self, username: str, password_hash: str, role: str, display_name: str, *, must_change: bool = False
    ) -> bool:
        """False when the name is taken (nothing changed). `must_change`: a one-time password."""
        row = {
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "display_name": display_name,
            "active": True,
            "created_at": self.clock.now(),
            "must_change_password": must_change,
        }
        async with self.engine.begin() as conn:
            res = await conn.execute(self._insert_ignore(t.users).values(row))
            return bool(res.rowcount)

    async def set_password(
        self, username: str, password_hash: str, *, must_change: bool, keep_session: str | None = None
    ) -> int:
        """A new password (one-time when `must_change`); ends the user's sessions but `keep_session` (a
        session hash) in the same transaction. Returns how many sessions ended."""
        s = t.sessions.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.users)
                .where(t.users.c.username == username)
                .values(password_hash=password_hash, must_change_password=must_change)
            )
            ended = delete(t.sessions).where(s.username == username)
            if keep_session is not None:
                ended = ended.where(s.session_hash != keep_session)
            return int((await conn.execute(ended)).rowcount or 0)

    async def get_user(self, username: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.users).where(t.users.c.username == username))).first()
            return dict(row._mapping) if row else None

    async def list_users(self) -> list[dict[str, Any]]:
        u = t.users.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(
                    u.username, u.role, u.display_name, u.active, u.created_at, u.must_change_password
                ).order_by(u.username)
            )
            return [dict(r._mapping) for r in res]

    async def add_token(self, token_hash: str, username: str, label: str, expires_at: float | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.api_tokens).values(
                    token_hash=token_hash,
                    username=username,
                    label=label,
                    created_at=self.clock.now(),
                    expires_at=expires_at,
                )
            )

    async def token_user(self, token_hash: str) -> dict[str, Any] | None:
        """The active user a live token belongs to."""
        k, u = t.api_tokens.c, t.users.c
        now = self.clock.now()
        q = (
            select(u.username, u.role, u.display_name)
            .select_from(t.api_tokens.join(t.users, k.username == u.username))
            .where(
                k.token_hash == token_hash,
                k.revoked_at.is_(None),
                or_(k.expires_at.is_(None), k.expires_at > now),
                u.active.is_(True),
            )
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).first()
            return dict(row._mapping) if row else None

    async def add_session(
        self, session_hash: str, username: str, csrf_token: str, ttl_s: float, remote: str | None
    ) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            # Expired sessions are swept on login: no timer needed, and the table stays small.
            await conn.execute(delete(t.sessions).where(t.sessions.c.expires_at <= now))
            await conn.execute(
                insert(t.sessions).values(
                    session_hash=session_hash,
                    username=username,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=now + ttl_s,
                    remote=remote,
                )
            )

    async def session_user(self, session_hash: str) -> dict[str, Any] | None:
        """The active user of a live session, with the session's CSRF token and the one-time flag."""
        s, u = t.sessions.c, t.users.c
        q = (
            select(u.username, u.role, u.display_name, u.must_change_password, s.csrf_token)
            .select_from(t.sessions.join(t.users, s.username == u.username))
            .where(s.session_hash == session_hash, s.expires_at > self.clock.now(), u.active.is_(True))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).first()
            return dict(row._mapping) if row else None

    async def end_session(self, session_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(t.sessions).where(t.sessions.c.session_hash == session_hash))

    # -- warning drafts ---------------------------------------------------------------------------------

    async def add_draft(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.warning_drafts).values(row))

    async def get_draft(self, warning_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            q = select(t.warning_drafts).where(t.warning_drafts.c.warning_id == warning_id)
            row = (await conn.execute(q)).first()
            return dict(row._mapping) if row else None

    async def list_drafts(
        self, states: Sequence[str] | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        d = t.warning_drafts.c
        q = select(t.warning_drafts).order_by(d.updated_at.desc()).limit(limit)
        if states:
            q = q.where(d.state.in_(list(states)))
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(q)]

    async def move_draft(
        self,
        warning_id: str,
        *,
        from_states: Sequence[str],
        revision: int,
        values: dict[str, Any],
        approval: dict[str, Any] | None = None,
    ) -> bool:
        """Compare-and-set: change the draft only if it is still in one of `from_states` at `revision`.

        Two approvers pressing at once, or an edit racing an approval, cannot both win: the loser gets
        False and the caller reports a conflict. The approval row is written in the same transaction.
        """
        d = t.warning_drafts.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(t.warning_drafts)
                .where(d.warning_id == warning_id, d.state.in_(list(from_states)), d.revision == revision)
                .values(**values, updated_at=self.clock.now())
            )
            if not res.rowcount:
                return False
            if approval is not None:
                await conn.execute(
                    insert(t.warning_approvals).values(
                        warning_id=warning_id, revision=revision, at=self.clock.now(), **approval
                    )
                )
            return True

    async def approvals(self, warning_id: str) -> list[dict[str, Any]]:
        a = t.warning_approvals.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(a.revision, a.actor, a.decision, a.reason, a.at)
                .where(a.warning_id == warning_id)
                .order_by(a.id)
            )
            return [dict(r._mapping) for r in res]

    # -- audit ------------------------------------------------------------------------------------------

    # -- directory look-ups -----------------------------------------------------------------------------

    async def cells(
        self, level: str | None = None, parent: str | None = None, *, geometry: bool = False
    ) -> list[dict[str, Any]]:
        c = t.cells.c
        cols = [c.code, c.level, c.parent, c.name] + ([c.geometry] if geometry else [])
        q = select(*cols).order_by(c.code)
        if level is not None:
            q = q.where(c.level == level)
        if parent is not None:
            q = q.where(c.parent == parent)
        async with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(q)]
        if geometry:
            for r in rows:
                r["geometry"] = json.loads(r["geometry"])
        return rows

    async def cell(self, code: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.cells).where(t.cells.c.code == code))).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["geometry"] = json.loads(out["geometry"])
        return out

    async def cell_counts(self, code: str) -> dict[str, int]:
        """Households, people and terminals at or under a cell (codes nest by prefix: see resolve)."""
        from warnengine.resolve.index import code_prefix

        like = (code_prefix(code) or code) + "%"
        out: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for name, table in (("households", t.households), ("people", t.people), ("devices", t.devices)):
                q = select(func.count()).select_from(table).where(table.c.cell_code.like(like))
                out[name] = int((await conn.execute(q)).scalar_one())
        return out

    async def list_devices(
        self, village: str | None = None, online: bool | None = None, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        dv = t.devices.c
        q = (
            select(
                dv.device_id,
                dv.cell_code,
                dv.lon,
                dv.lat,
                dv.kind,
                dv.online,
                dv.last_seen,
                dv.last_result,
                dv.last_reason,
                dv.firmware,
                dv.volume,
                dv.offline_since,
                dv.offline_reason,
                dv.drill_opt_in,
                dv.sig_alg,
                dv.responsible_id,
            )
            .order_by(dv.device_id)
            .limit(limit)
            .offset(offset)
        )
        if village is not None:
            q = q.where(dv.cell_code == village)
        if online is not None:
            q = q.where(dv.online.is_(online))
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(q)]

    async def get_device(self, device_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.devices).where(t.devices.c.device_id == device_id))).first()
            return dict(row._mapping) if row else None

    # -- live reach ---------------------------------------------------------------------------------------

    async def village_reach(self, warning_id: str) -> dict[str, dict[str, int]]:
        """Per village of the warning's newest resolved version: terminals (loudspeaker deliveries),
        messages to people (SMS, WeChat, app, visits) and households (到户), each by outcome.

        Villages the resolver targeted but no channel has touched yet are listed with zeros, so the
        unreached list names them from the first second.
        """
        wv, d, wh = t.warning_villages.c, t.deliveries.c, t.warning_households.c
        keys = ("terminals", "terminals_played", "messages", "messages_reached", "failed")
        out: dict[str, dict[str, int]] = {}

        def blank() -> dict[str, int]:
            return dict.fromkeys((*keys, *_HOUSEHOLD_KEYS), 0)

        async with self.engine.connect() as conn:
            latest = (
                await conn.execute(select(func.max(wv.version)).where(wv.warning_id == warning_id))
            ).scalar_one()
            if latest is None:
                return out
            for r in await conn.execute(
                select(wv.village_code).where(wv.warning_id == warning_id, wv.version == latest)
            ):
                out[r.village_code] = blank()
            res = await conn.execute(
                select(d.village_code, d.channel, d.state, func.count())
                .where(d.warning_id == warning_id, d.version == latest)
                .group_by(d.village_code, d.channel, d.state)
            )
            for village, channel, state, n in res:
                row = out.setdefault(village, blank())
                speaker = channel == "loudspeaker"
                row["terminals" if speaker else "messages"] += int(n)
                if state in REACHED:
                    row["terminals_played" if speaker else "messages_reached"] += int(n)
                elif state in FAILED:
                    row["failed"] += int(n)
            res = await conn.execute(
                select(
                    wh.village_code,
                    func.count(),
                    *(func.sum(case((wh.state == st, 1), else_=0)) for st in _COUNTED),
                )
                .where(wh.warning_id == warning_id)
                .group_by(wh.village_code)
            )
            for village, n, *states in res:
                row = out.setdefault(village, blank())
                row["households"] = int(n)
                for key, m in zip(_HOUSEHOLD_KEYS[1:], states, strict=True):
                    row[key] = int(m or 0)
        return out

    async def village_names(self, codes: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Code → (name, parent) for these cells."""
        c = t.cells.c
        out: dict[str, tuple[str, str | None]] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(codes))):
                for r in await conn.execute(select(c.code, c.name, c.parent).where(c.code.in_(chunk))):
                    out[r.code] = (r.name, r.parent)
        return out

    async def pipeline_warning(self, warning_id: str) -> dict[str, Any] | None:
        """The pipeline's newest record of the chain (what the normaliser accepted), if any."""
        w = t.warnings.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(w.version, w.msg_type, w.status, w.state, w.villages, w.event, w.updated_at)
                    .where(w.warning_id == warning_id)
                    .order_by(w.version.desc())
                    .limit(1)
                )
            ).first()
            return dict(row._mapping) if row else None
