"""The field-report inbox (issue 17): open (idempotent: a report's id is a hash of what opened it), take
(once: a second taker is told who has it), close (handled / forwarded), photos, and what the sweep reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import field_tables as ft
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model.field_report import (
    FieldReport,
    ReportKind,
    ReportSource,
    ReportState,
    report_id,
)
from warnengine.obs import metrics

Taken = Literal["taken", "missing", "already"]
Closed = Literal["closed", "missing", "not_taken"]
Photo = Literal["added", "missing", "full", "duplicate"]


def _row(r: FieldReport) -> dict[str, Any]:
    return {
        "report_id": r.report_id,
        "source": r.source.value,
        "kind": r.kind.value,
        "state": r.state.value,
        "created_at": r.created_at,
        "text": r.text,
        "warning_id": r.warning_id,
        "village_code": r.village_code,
        "household_id": r.household_id,
        "reporter": r.reporter,
        "lon": r.lon,
        "lat": r.lat,
        "calls": 0,
    }


def _report(r: Any, photos: Sequence[str] = ()) -> FieldReport:
    return FieldReport(
        report_id=r.report_id,
        source=ReportSource(r.source),
        kind=ReportKind(r.kind),
        state=ReportState(r.state),
        created_at=float(r.created_at),
        text=r.text,
        warning_id=r.warning_id,
        village_code=r.village_code,
        household_id=r.household_id,
        reporter=r.reporter,
        lon=r.lon,
        lat=r.lat,
        taken_by=r.taken_by,
        taken_at=r.taken_at,
        closed_by=r.closed_by,
        closed_at=r.closed_at,
        outcome_note=r.outcome_note,
        calls=int(r.calls),
        photos=tuple(photos),
    )


async def insert_reports(conn: AsyncConnection, insert_ignore: Any, reports: Sequence[FieldReport]) -> int:
    """Open `reports` inside `conn`'s transaction; those already open (same id) are left as they are.
    Returns how many are new (counted in warnengine_field_reports_total by source)."""
    if not reports:
        return 0
    fr = ft.field_reports.c
    ids = [r.report_id for r in reports]
    have: set[str] = set()
    for chunk in chunks(ids):
        have |= {x[0] for x in await conn.execute(select(fr.report_id).where(fr.report_id.in_(chunk)))}
    new = list({r.report_id: r for r in reports if r.report_id not in have}.values())
    for chunk in chunks([_row(r) for r in new]):
        await conn.execute(insert_ignore, list(chunk))
    for r in new:
        metrics.FIELD_REPORTS.labels(r.source.value).inc()
    return len(new)


def from_visit(
    warning_id: str,
    village: str,
    household: str,
    outcome: str,
    reason: str | None,
    vulnerable: bool,
    visitor: str | None,
    at: float,
) -> FieldReport | None:
    """The report a visit outcome opens: needs help, a refusal, or a vulnerable household's whereabouts
    unknown after the revisit (one per warning, household and kind: a refusal written twice is one)."""
    if outcome in ("needs_help", "refused"):
        kind, source = ReportKind(outcome), ReportSource.VISIT
    elif vulnerable and reason is not None and reason.startswith("whereabouts unknown"):
        kind, source = ReportKind.WHEREABOUTS_UNKNOWN, ReportSource.WHEREABOUTS
    else:
        return None
    label = {"needs_help": "需要帮助 / needs help", "refused": "拒绝转移 / refused to leave"}
    text = f"{label.get(kind.value, '下落不明 / whereabouts unknown')}: {household}"
    if reason:
        text += f" — {reason}"
    return FieldReport(
        report_id=report_id("visit", warning_id, household, kind.value),
        source=source,
        kind=kind,
        state=ReportState.OPEN,
        created_at=at,
        text=text,
        warning_id=warning_id,
        village_code=village,
        household_id=household,
        reporter=visitor,
    )


class FieldReportQueries(StoreBase):
    async def open_field_reports(self, reports: Sequence[FieldReport]) -> int:
        async with self.engine.begin() as conn:
            return await insert_reports(conn, self._insert_ignore(ft.field_reports), reports)

    async def field_reports(
        self, states: Sequence[str] = (), limit: int = 200, warning_id: str | None = None
    ) -> list[FieldReport]:
        """Newest first; open ones are what the console's inbox shows on top."""
        fr = ft.field_reports.c
        query = select(ft.field_reports).order_by(fr.created_at.desc(), fr.report_id).limit(limit)
        if states:
            query = query.where(fr.state.in_(list(states)))
        if warning_id is not None:
            query = query.where(fr.warning_id == warning_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            photos = await self._photos(conn, [r.report_id for r in rows])
        return [_report(r, photos.get(r.report_id, [])) for r in rows]

    async def field_report(self, rid: str) -> FieldReport | None:
        fr = ft.field_reports.c
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ft.field_reports).where(fr.report_id == rid))).one_or_none()
            photos = await self._photos(conn, [rid])
        return None if row is None else _report(row, photos.get(rid, []))

    async def _photos(self, conn: AsyncConnection, ids: Sequence[str]) -> dict[str, list[str]]:
        p = ft.field_report_photos.c
        out: dict[str, list[str]] = {}
        for chunk in chunks(list(ids)):
            query = select(p.report_id, p.sha256).where(p.report_id.in_(chunk)).order_by(p.seq)
            for r in await conn.execute(query):
                out.setdefault(r.report_id, []).append(r.sha256)
        return out

    async def take_field_report(self, rid: str, who: str, now: float) -> Taken:
        """Only an open report can be taken, and only once (a conditional update: two takers racing get
        one `taken` and one `already`)."""
        fr = ft.field_reports.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(ft.field_reports)
                .where(fr.report_id == rid, fr.state == ReportState.OPEN.value)
                .values(state=ReportState.TAKEN.value, taken_by=who, taken_at=now)
            )
            if res.rowcount:
                return "taken"
            found = (await conn.execute(select(fr.report_id).where(fr.report_id == rid))).first()
        return "already" if found else "missing"

    async def close_field_report(
        self, rid: str, who: str, state: ReportState, note: str | None, now: float
    ) -> Closed:
        """A taken report is closed as handled or forwarded (the note says what was done, or to whom)."""
        fr = ft.field_reports.c
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(ft.field_reports)
                .where(fr.report_id == rid, fr.state == ReportState.TAKEN.value)
                .values(state=state.value, closed_by=who, closed_at=now, outcome_note=note)
            )
            if res.rowcount:
                return "closed"
            found = (await conn.execute(select(fr.report_id).where(fr.report_id == rid))).first()
        return "not_taken" if found else "missing"

    async def add_field_report_photo(
        self, rid: str, sha: str, content_type: str, size: int, who: str, now: float, most: int
    ) -> Photo:
        fr, p = ft.field_reports.c, ft.field_report_photos.c
        async with self.engine.begin() as conn:
            if (await conn.execute(select(fr.report_id).where(fr.report_id == rid))).first() is None:
                return "missing"
            have = [r.sha256 for r in await conn.execute(select(p.sha256).where(p.report_id == rid))]
            if sha in have:
                return "duplicate"
            if len(have) >= most:
                return "full"
            row = {
                "report_id": rid,
                "sha256": sha,
                "content_type": content_type,
                "size": size,
                "seq": len(have),
                "added_at": now,
                "added_by": who,
            }
            await conn.execute(self._insert_ignore(ft.field_report_photos), [row])
        return "added"

    async def field_report_photo(self, sha: str) -> str | None:
        """The content type a stored photo was accepted as (None: no report has it)."""
        p = ft.field_report_photos.c
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(p.content_type).where(p.sha256 == sha).limit(1))).first()
        return None if row is None else str(row[0])

    async def overdue_field_reports(self, created_before: float, called_before: float) -> list[FieldReport]:
        """Open reports older than the take deadline whose last 叫应 (if any) is a deadline old too."""
        fr = ft.field_reports.c
        query = select(ft.field_reports).where(
            fr.state == ReportState.OPEN.value,
            fr.created_at <= created_before,
            fr.called_at.is_(None) | (fr.called_at <= called_before),
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(fr.created_at, fr.report_id))).all()
        return [_report(r) for r in rows]

    async def record_field_report_calls(self, ids: Sequence[str], now: float) -> None:
        fr = ft.field_reports.c
        async with self.engine.begin() as conn:
            for chunk in chunks(list(ids)):
                await conn.execute(
                    update(ft.field_reports)
                    .where(fr.report_id.in_(chunk))
                    .values(calls=fr.calls + 1, called_at=now)
                )

    async def open_field_report_count(self) -> int:
        fr = ft.field_reports.c
        async with self.engine.connect() as conn:
            query = select(func.count()).where(fr.state == ReportState.OPEN.value)
            return int((await conn.execute(query)).scalar_one())

    async def household_village(self, household_id: str) -> str | None:
        """The village of a household the directory knows (None: unknown household)."""
        h = t.households.c
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(h.cell_code).where(h.household_id == household_id))).first()
        return None if row is None else str(row[0])[:12]  # group codes are the village's 12 digits + 2

    async def warning_known(self, warning_id: str) -> bool:
        w = t.warnings.c
        async with self.engine.connect() as conn:
            return (
                await conn.execute(select(w.warning_id).where(w.warning_id == warning_id))
            ).first() is not None
