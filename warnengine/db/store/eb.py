"""The county emergency-broadcast platform's record: EBM ids by warning version, and the terminals
reached through it (devices.provider = eb). channels/eb_platform.py reads and writes these."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select, update

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.db.tables_eb import eb_messages
from warnengine.model.records import EbMessage

_TRIES = 20


class EbQueries(StoreBase):
    async def eb_message(
        self, warning_id: str, version: int, new_id: Callable[[], str], areas: Sequence[str]
    ) -> str:
        """The EBM id of a warning version: the one on record (its areas extended by `areas`), else a new
        one from `new_id`, recorded. Two workers racing get the same id (the second insert is ignored); an
        id already taken by another version (the day's numbers wrapped) is replaced by the next one."""
        m = eb_messages.c
        mine = select(m.ebm_id, m.areas).where(m.warning_id == warning_id, m.version == version)
        async with self.engine.begin() as conn:
            found = (await conn.execute(mine)).one_or_none()
            for _ in range(_TRIES):
                if found is not None:
                    break
                row = {"ebm_id": new_id(), "warning_id": warning_id, "version": version}
                row |= {"areas": ",".join(sorted(set(areas))), "created_at": self.clock.now()}
                await conn.execute(self._insert_ignore(eb_messages), [row])
                found = (await conn.execute(mine)).one_or_none()
            if found is None:
                raise RuntimeError(f"no free EBM id for {warning_id} v{version} after {_TRIES} tries")
            have = set(found.areas.split(",")) if found.areas else set()
            if not set(areas) <= have:
                joined = ",".join(sorted(have | set(areas)))
                await conn.execute(update(eb_messages).where(m.ebm_id == found.ebm_id).values(areas=joined))
            return str(found.ebm_id)

    async def eb_lookup(self, ebm_id: str) -> EbMessage | None:
        m = eb_messages.c
        async with self.engine.connect() as conn:
            r = (await conn.execute(select(eb_messages).where(m.ebm_id == ebm_id))).one_or_none()
        if r is None:
            return None
        return EbMessage(r.ebm_id, r.warning_id, r.version, tuple(a for a in r.areas.split(",") if a))

    async def eb_previous(self, warning_id: str, version: int) -> str | None:
        """The EBM of the latest earlier version of the chain sent to the platform: RelatedEBM."""
        m = eb_messages.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(m.ebm_id)
                .where(m.warning_id == warning_id, m.version < version)
                .order_by(m.version.desc())
                .limit(1)
            )
            value = res.scalar_one_or_none()
        return str(value) if value is not None else None

    async def eb_devices(self, village_codes: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Terminals reached through the EB platform, per village (all villages when None)."""
        d = t.devices.c
        query = select(d.device_id, d.cell_code).where(d.provider == "eb").order_by(d.device_id)
        out: dict[str, list[str]] = {}
        async with self.engine.connect() as conn:
            parts = (
                [query]
                if village_codes is None
                else [query.where(d.cell_code.in_(c)) for c in chunks(village_codes)]
            )
            for q in parts:
                for r in await conn.execute(q):
                    out.setdefault(r.cell_code, []).append(r.device_id)
        return out
