"""The loudspeaker fallback (issue 18), pages for terminals offline too long, and the link tests' record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select

from warnengine.db import tables as t
from warnengine.db import tables_links as tl
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import Channel, DeliveryState


class LinkQueries(StoreBase):
    # -- loudspeaker fallback --------------------------------------------------------------------------

    async def village_speakers(self, warning_id: str, version: int) -> list[tuple[str, int, int, int]]:
        """(village, terminals, offline, played) per village this version sent loudspeaker commands to and
        that did not fall back yet: its terminals on record, those offline now, those that played it."""
        d, dv, fb = t.deliveries.c, t.devices.c, tl.loudspeaker_fallbacks.c
        async with self.engine.connect() as conn:
            sent = await conn.execute(
                select(d.village_code, d.recipient, d.state).where(
                    d.warning_id == warning_id, d.version == version, d.channel == Channel.LOUDSPEAKER.value
                )
            )
            played: dict[str, int] = {}
            for r in sent:
                played.setdefault(r.village_code, 0)
                played[r.village_code] += r.state == DeliveryState.PLAYED.value
            done = await conn.execute(
                select(fb.village_code).where(fb.warning_id == warning_id, fb.version == version)
            )
            for r in done:
                played.pop(r.village_code, None)
            health: dict[str, list[bool | None]] = {}
            for chunk in chunks(sorted(played)):
                res = await conn.execute(select(dv.cell_code, dv.online).where(dv.cell_code.in_(chunk)))
                for h in res:
                    health.setdefault(h.cell_code, []).append(h.online)
        return [
            (v, len(health.get(v, [])), sum(1 for o in health.get(v, []) if o is False), n)
            for v, n in sorted(played.items())
        ]

    async def responsible_of(self, villages: Sequence[str]) -> dict[str, list[str]]:
        """Village → the 专人 of its terminals (devices.responsible_id), each once, in device order."""
        dv = t.devices.c
        out: dict[str, list[str]] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(villages))):
                res = await conn.execute(
                    select(dv.cell_code, dv.responsible_id)
                    .where(dv.cell_code.in_(chunk), dv.responsible_id.is_not(None))
                    .order_by(dv.device_id)
                )
                for r in res:
                    mine = out.setdefault(r.cell_code, [])
                    if r.responsible_id not in mine:
                        mine.append(r.responsible_id)
        return out

    async def record_fallback(
        self,
        warning_id: str,
        version: int,
        village: str,
        reason: str,
        households: int,
        responsible: Sequence[str],
        now: float,
    ) -> None:
        """The fallback of one village, and its audit row, in one transaction (done once per version)."""
        row = {
            "warning_id": warning_id,
            "version": version,
            "village_code": village,
            "reason": reason,
            "households": households,
            "responsible": ",".join(responsible),
            "at": now,
        }
        detail = {k: row[k] for k in ("version", "village_code", "reason", "households", "responsible")}
        async with self.engine.begin() as conn:
            await conn.execute(self._insert_ignore(tl.loudspeaker_fallbacks), [row])
            await conn.execute(_audit(now, "loudspeaker_fallback", warning_id, detail))

    async def loudspeaker_fallbacks(self, warning_id: str) -> list[dict[str, Any]]:
        fb = tl.loudspeaker_fallbacks.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(tl.loudspeaker_fallbacks).where(fb.warning_id == warning_id).order_by(fb.village_code)
            )
            return [dict(r._mapping) for r in res]

    # -- terminals offline too long --------------------------------------------------------------------

    async def offline_unpaged(self, offline_before: float) -> list[tuple[str, str, float, str | None]]:
        """(device, village, offline_since, 专人) of terminals offline since before `offline_before` whose
        current offline spell has not been paged yet."""
        dv, pg = t.devices.c, tl.device_pages.c
        paged = (
            select(pg.device_id)
            .where(and_(pg.device_id == dv.device_id, pg.offline_since == dv.offline_since))
            .exists()
        )
        q = (
            select(dv.device_id, dv.cell_code, dv.offline_since, dv.responsible_id)
            .where(dv.online.is_(False), dv.offline_since <= offline_before, ~paged)
            .order_by(dv.device_id)
        )
        async with self.engine.connect() as conn:
            return [
                (r.device_id, r.cell_code, float(r.offline_since), r.responsible_id)
                for r in await conn.execute(q)
            ]

    async def record_page(
        self, device_id: str, offline_since: float, person_id: str | None, result: str, now: float
    ) -> None:
        row = {
            "device_id": device_id,
            "offline_since": offline_since,
            "person_id": person_id,
            "result": result[:64],
            "at": now,
        }
        detail = {"offline_since": offline_since, "person_id": person_id, "result": result}
        async with self.engine.begin() as conn:
            await conn.execute(self._insert_ignore(tl.device_pages), [row])
            await conn.execute(_audit(now, "terminal_offline_page", device_id, detail))

    # -- link tests ------------------------------------------------------------------------------------

    async def terminals_to_test(self) -> list[tuple[str, str, str]]:
        """(device, village, sig_alg) of every terminal on record."""
        dv = t.devices.c
        async with self.engine.connect() as conn:
            res = await conn.execute(select(dv.device_id, dv.cell_code, dv.sig_alg).order_by(dv.device_id))
            return [(r.device_id, r.cell_code, r.sig_alg) for r in res]

    async def record_link_tests(self, results: Sequence[tuple[str, str, str | None]], now: float) -> None:
        """(link, kind, error or None for a success) of one round: successes stamp `last_success`,
        failures count up in a row and keep the last success as it was."""
        lt = tl.link_tests.c
        async with self.engine.begin() as conn:
            before: dict[str, tuple[float | None, int]] = {}
            for chunk in chunks(sorted({r[0] for r in results})):
                res = await conn.execute(
                    select(lt.link, lt.last_success, lt.failures).where(lt.link.in_(chunk))
                )
                before.update({r.link: (r.last_success, int(r.failures)) for r in res})
            rows = []
            for link, kind, error in results:
                success, failures = before.get(link, (None, 0))
                rows.append(
                    {
                        "link": link,
                        "kind": kind,
                        "last_tried": now,
                        "last_success": now if error is None else success,
                        "last_error": error,
                        "failures": 0 if error is None else failures + 1,
                    }
                )
            for chunk in chunks(rows, 1000):
                await conn.execute(self._upsert(tl.link_tests, ["link"], list(chunk)), list(chunk))

    async def forget_links(self, kind: str, keep: Sequence[str]) -> list[str]:
        """Drops the links of `kind` not in `keep` (a terminal taken out of the directory, a provider out of
        channels.yaml): they are not tested any more and must not stay stale for ever. Returns them."""
        lt = tl.link_tests.c
        async with self.engine.begin() as conn:
            have = [r.link for r in await conn.execute(select(lt.link).where(lt.kind == kind))]
            gone = sorted(set(have) - set(keep))
            for chunk in chunks(gone):
                await conn.execute(delete(tl.link_tests).where(lt.link.in_(chunk)))
        return gone

    async def link_tests(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            res = await conn.execute(select(tl.link_tests).order_by(tl.link_tests.c.link))
            return [dict(r._mapping) for r in res]


def _audit(now: float, action: str, subject: str, detail: dict[str, Any]) -> Any:
    return insert(t.audit_log).values(
        at=now,
        actor="warnengine",
        action=action,
        subject=subject,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
    )
