from __future__ import annotations

from warnengine.clock import ManualClock
from warnengine.db.store import Store
from warnengine.directory import County


async def test_each_import_is_audited_and_tells_workers_to_reload(store: Store, small_county: County) -> None:
    c = small_county
    assert await store.directory_changed_at() is None
    await store.import_directory(c.cells, c.households, c.people, c.devices, c.points)
    first = await store.directory_changed_at()
    assert first == store.clock.now()
    assert isinstance(store.clock, ManualClock)
    store.clock.advance(30)
    await store.import_directory([], c.households[:1], [], [])  # a partial re-import counts too
    assert await store.directory_changed_at() == first + 30
    [entry, *_] = await store.audit_entries(actor="grid import")
    assert entry["action"] == "directory.import"
