from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, func, select

from tests.plan.conftest import directory_of
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.policy import load_policy
from warnengine.plan.stage import plan_deliveries

POLICY = load_policy(Path(__file__).resolve().parents[2] / "config" / "policy.yaml")


def warning(codes: list[str], status: Status = Status.ACTUAL) -> HazardWarning:
    return HazardWarning(
        warning_id="w-plan",
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=status,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        areas=[Area(codes=codes)],
    )


async def count(store: Store, table: Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_resolve_plans_and_records_idempotently(store: Store, small_county: County) -> None:
    c = small_county
    await store.import_directory(c.cells, c.households, c.people, c.devices, c.points)
    w = warning([c.cells[0].code])
    await store.save_warning(w)
    directory = directory_of(c)
    villages = await plan_deliveries(w, directory, POLICY, store, 3600)
    assert len(villages) == sum(1 for x in c.cells if x.level.value == "village")
    assert await count(store, t.warning_households) == len(c.households)
    first = await count(store, t.deliveries)
    assert first > len(c.devices)
    # A redelivered warning plans the same rows: nothing new, nothing lost.
    await store.save_plan(*_rows(w, directory))
    assert await count(store, t.deliveries) == first


def _rows(w: HazardWarning, directory: object) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    from warnengine.plan.plan import plan_warning
    from warnengine.plan.stage import plan_rows
    from warnengine.resolve.targets import resolve_areas

    reach = resolve_areas(directory, w.areas)  # type: ignore[arg-type]
    plans = list(plan_warning(w, reach, directory, POLICY.rule_for(w.hazard, w.severity)))  # type: ignore[arg-type]
    return plan_rows(w, plans, 0.0, 1e10)
