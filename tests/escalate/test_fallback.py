"""Never trust a silent loudspeaker (issue 18), against the real record (SQLite and PostgreSQL), the clock
moved by hand: a red warning in a village whose terminals are all offline gets its visit tasks within the
window (not at the ladder's visit step, 10 minutes), one whose terminals never report `played` gets them
once the window (2 minutes for red) is over, and the terminals' 专人 is 叫应'd; a village that played does
not fall back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.escalate.test_ladder import POLICY, red, rows
from tests.plan.conftest import directory_of
from warnengine.acks.stage import apply_speaker_acks
from warnengine.clock import ManualClock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.ladder import SweepCounts, escalate
from warnengine.model import AckState, Area, Device, Role, SpeakerAck, steps
from warnengine.model.steps import StepRange
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory


class Village:
    """A red warning sent at t=0 to one village whose terminals' 专人 is one of its grid members."""

    def __init__(self, store: Store, devices: list[Device], directory: Directory, village: str) -> None:
        self.store, self.devices, self.directory, self.village = store, devices, directory, village
        clock = store.clock
        assert isinstance(clock, ManualClock)
        self.clock = clock
        self.t0 = clock.now()
        self.w = red(village, clock)
        self.emitted: list[str] = []

    async def emit(self, wid: str, v: int, village: str) -> None:
        self.emitted.append(village)

    async def sweep_at(self, minutes: float) -> SweepCounts:
        self.clock.advance(self.t0 + minutes * 60 - self.clock.now())
        return await escalate(self.store, self.directory, POLICY, self.emit)

    async def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        return await rows(self.store, t.deliveries, warning_id=self.w.warning_id, **where)

    async def of_kind(self, kind: StepRange, **where: Any) -> list[dict[str, Any]]:
        """Deliveries of one kind of step (fallback steps are numbered per sweep)."""
        return [d for d in await self.deliveries(**where) if d["step"] in kind]

    async def terminals(self) -> list[str]:
        return [d.device_id for d in self.devices if d.cell_code == self.village]


async def setup(store: Store, county: County) -> tuple[Village, str]:
    village = next(c.code for c in county.cells if c.level.value == "village")
    member = next(p for p in county.people if p.cell_code == village and p.role is Role.GRID_MEMBER)
    devices = [
        d.model_copy(update={"responsible_id": member.person_id}) if d.cell_code == village else d
        for d in county.devices
    ]
    await store.import_directory(county.cells, county.households, county.people, devices, county.points)
    v = Village(store, devices, directory_of(county), village)
    assert await v.terminals()
    return v, member.person_id


async def release(v: Village) -> None:
    await v.store.save_warning(v.w)
    assert await plan_deliveries(v.w, v.directory, POLICY, v.store, 3600) == [v.village]
    first = await v.deliveries()
    await v.store.finish_dispatch([d["delivery_id"] for d in first], {}, [])  # all sent at t=0


async def offline_terminals(store: Store, device_ids: list[str]) -> None:
    """The terminals' last will arrived: offline on the record."""
    status = {"online": False, "volume": None, "playing": None, "firmware": None, "reason": "will"}
    await store.record_device_status([{"device_id": d, **status} for d in device_ids])


async def visit_households(v: Village) -> set[str]:
    return {h for task in await v.store.visit_tasks(v.w.warning_id) for h, _, _ in task.households}


async def unreached(v: Village) -> set[str]:
    homes = await rows(v.store, t.warning_households, warning_id=v.w.warning_id)
    return {h["household_id"] for h in homes if h["state"] != "reached"}


async def check_called(v: Village, person: str, reason: str) -> None:
    """The 专人 got a 叫应 naming the village; the fallback is recorded and audited, once."""
    calls = await v.of_kind(steps.RESPONSIBLE, person_id=person)
    assert calls and all(d["text"].startswith("叫应：") and "入户" in d["text"] for d in calls)
    (fb,) = await v.store.loudspeaker_fallbacks(v.w.warning_id)
    assert (fb["village_code"], fb["reason"], fb["responsible"]) == (v.village, reason, person)
    assert fb["households"] == len(await visit_households(v)) > 0
    async with v.store.engine.connect() as conn:
        audit = list(
            await conn.execute(select(t.audit_log).where(t.audit_log.c.action == "loudspeaker_fallback"))
        )
    assert len(audit) == 1 and audit[0].subject == v.w.warning_id


async def test_every_terminal_offline_gets_visits_within_the_window(
    store: Store, small_county: County
) -> None:
    v, person = await setup(store, small_county)
    await offline_terminals(store, await v.terminals())
    await release(v)
    counts = await v.sweep_at(1)  # within the 2-minute window, long before the visit step at 10
    assert counts.fallbacks == [f"{v.w.warning_id}:{v.village}"] and counts.steps == []
    assert await visit_households(v) == await unreached(v)
    visitors = {task.assignee for task in await store.visit_tasks(v.w.warning_id)}
    messages = await v.of_kind(steps.FALLBACK)
    assert visitors and {d["person_id"] for d in messages} == visitors
    assert all(d["text"].startswith("入户任务") for d in messages)
    await check_called(v, person, "offline")
    assert v.emitted == [v.village]  # the new deliveries' village task went out
    # Swept again: nothing new. At the ladder's visit step no household gets a second task.
    before = len(await v.deliveries())
    assert (await v.sweep_at(1.5)).fallbacks == [] and len(await v.deliveries()) == before
    tasks = await store.visit_tasks(v.w.warning_id)
    assert (await v.sweep_at(11)).steps[-1] == f"{v.w.warning_id}:2:visit"
    assert await store.visit_tasks(v.w.warning_id) == tasks


async def test_terminals_that_never_report_played_fall_back_after_the_window(
    store: Store, small_county: County
) -> None:
    v, person = await setup(store, small_county)
    await release(v)  # the terminals are on record, never heard from, never say played
    assert (await v.sweep_at(1.5)).fallbacks == [] and await store.visit_tasks(v.w.warning_id) == []
    counts = await v.sweep_at(2.5)
    assert counts.fallbacks == [f"{v.w.warning_id}:{v.village}"]
    assert await visit_households(v) == await unreached(v)
    await check_called(v, person, "not_played")


async def test_a_village_whose_terminal_played_does_not_fall_back(store: Store, small_county: County) -> None:
    v, person = await setup(store, small_county)
    await release(v)
    one = next(d for d in await v.deliveries() if d["channel"] == "loudspeaker")
    ack = SpeakerAck(
        cmd_id=one["delivery_id"], state=AckState.PLAYED, at=v.clock.now(), device_id=one["recipient"]
    )
    await apply_speaker_acks([ack], store)
    for minute in (1, 3, 6):
        assert (await v.sweep_at(minute)).fallbacks == []
    assert await store.loudspeaker_fallbacks(v.w.warning_id) == []
    assert await v.of_kind(steps.RESPONSIBLE, person_id=person) == []


async def test_without_a_responsible_person_the_grid_head_on_duty_is_called(
    store: Store, small_county: County
) -> None:
    await store.import_directory(
        small_county.cells,
        small_county.households,
        small_county.people,
        small_county.devices,
        small_county.points,
    )
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    v = Village(store, small_county.devices, directory_of(small_county), village)
    await release(v)
    await v.sweep_at(3)
    head = next(s.person_id for s in v.directory.staff[village] if s.role is Role.GRID_HEAD)
    (fb,) = await store.loudspeaker_fallbacks(v.w.warning_id)
    assert fb["responsible"] == head and await v.of_kind(steps.RESPONSIBLE, person_id=head)


async def test_villages_falling_back_in_different_sweeps_each_call_their_shared_responsible_person(
    store: Store, small_county: County
) -> None:
    """One 专人 for the terminals of two villages of one warning: the first village is offline at release
    (falls back at once), the second never plays (falls back after the window). Both 叫应 reach them: before
    the steps were numbered per sweep, the second had the first's delivery id and was dropped."""
    villages = [c.code for c in small_county.cells if c.level.value == "village"][:2]
    member = next(p for p in small_county.people if p.cell_code == villages[0] and p.role is Role.GRID_MEMBER)
    devices = [
        d.model_copy(update={"responsible_id": member.person_id}) if d.cell_code in villages else d
        for d in small_county.devices
    ]
    c = small_county
    await store.import_directory(c.cells, c.households, c.people, devices, c.points)
    v = Village(store, devices, directory_of(c), villages[0])
    v.w = v.w.model_copy(update={"areas": [Area(codes=villages)]})
    offline = [d.device_id for d in devices if d.cell_code == villages[0]]
    second = [d.device_id for d in devices if d.cell_code == villages[1]]
    assert offline and second
    await offline_terminals(store, offline)
    await store.save_warning(v.w)
    assert sorted(await plan_deliveries(v.w, v.directory, POLICY, store, 3600)) == sorted(villages)
    await store.finish_dispatch([d["delivery_id"] for d in await v.deliveries()], {}, [])
    assert (await v.sweep_at(1)).fallbacks == [f"{v.w.warning_id}:{villages[0]}"]
    assert (await v.sweep_at(2.5)).fallbacks == [f"{v.w.warning_id}:{villages[1]}"]
    calls = await v.of_kind(steps.RESPONSIBLE, person_id=member.person_id)
    assert len({d["step"] for d in calls}) == 2
    for code in villages:
        assert any(v.directory.cells[code].name in d["text"] for d in calls), code
