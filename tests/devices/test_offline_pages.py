"""A terminal offline longer than `terminal_page_after_s` pages its 专人 with no warning live (issue 18),
once per offline spell; one with nobody responsible is recorded and counted (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import REGISTRY
from sqlalchemy import select

from channels.base import Outgoing, SendResult
from tests.plan.conftest import directory_of
from warnengine.clock import ManualClock
from warnengine.db import tables as t
from warnengine.db import tables_links as tl
from warnengine.db.store import Store
from warnengine.devices.pages import page_offline_terminals
from warnengine.directory import County
from warnengine.model import Channel, Role

HOUR = 3600.0
AFTER = 6 * HOUR


def offline(device: str) -> dict[str, object]:
    return {
        "device_id": device,
        "online": False,
        "volume": None,
        "playing": None,
        "firmware": None,
        "reason": "will",
    }


async def test_offline_too_long_pages_the_responsible_person_without_a_warning(
    store: Store, small_county: County
) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    member = next(
        p for p in small_county.people if p.cell_code == village and p.role is Role.GRID_MEMBER and p.phone
    )
    mine, orphan = [d for d in small_county.devices if d.cell_code == village][:1] + [
        d for d in small_county.devices if d.cell_code != village
    ][:1]
    devices = [
        d.model_copy(update={"responsible_id": member.person_id}) if d == mine else d
        for d in small_county.devices
    ]
    c = small_county
    await store.import_directory(c.cells, c.households, c.people, devices, c.points)
    directory = directory_of(c)
    sent: list[tuple[Channel, Outgoing]] = []

    async def send(channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:  # the SMS provider
        sent.extend((channel, o) for o in batch)
        return [SendResult(o.delivery_id, ok=True) for o in batch]

    before = REGISTRY.get_sample_value("warnengine_terminal_pages_total", {"result": "sent"}) or 0.0
    await store.record_device_status([offline(mine.device_id), offline(orphan.device_id)])
    async with store.engine.connect() as conn:  # no warning at all
        assert list(await conn.execute(select(t.warnings))) == []

    clock.advance(AFTER - 60)
    assert await page_offline_terminals(store, directory, send, AFTER, clock.now()) == {}
    clock.advance(120)
    assert await page_offline_terminals(store, directory, send, AFTER, clock.now()) == {
        mine.device_id: "sent",
        orphan.device_id: "no_person",
    }
    ((channel, page),) = sent
    assert channel is Channel.SMS and page.recipient == member.phone and page.village_code == village
    assert (
        mine.device_id in page.body["text"] and "离线" in page.body["text"] and "offline" in page.body["text"]
    )
    assert (
        REGISTRY.get_sample_value("warnengine_terminal_pages_total", {"result": "sent"}) or 0
    ) == before + 1
    # Once per offline spell: a later sweep pages nobody again.
    clock.advance(HOUR)
    assert await page_offline_terminals(store, directory, send, AFTER, clock.now()) == {}
    assert len(sent) == 1
    async with store.engine.connect() as conn:
        pages = {r.device_id: r for r in await conn.execute(select(tl.device_pages))}
        audit = list(
            await conn.execute(select(t.audit_log).where(t.audit_log.c.action == "terminal_offline_page"))
        )
    assert (
        pages[mine.device_id].person_id == member.person_id and pages[orphan.device_id].result == "no_person"
    )
    assert {a.subject for a in audit} == {mine.device_id, orphan.device_id}
    # Back online, then offline again: a new spell, a new page once it is long enough.
    await store.record_device_status([{**offline(mine.device_id), "online": True}])
    clock.advance(60)
    await store.record_device_status([offline(mine.device_id)])
    clock.advance(AFTER + 1)
    assert (await page_offline_terminals(store, directory, send, AFTER, clock.now()))[
        mine.device_id
    ] == "sent"
    assert len(sent) == 2
