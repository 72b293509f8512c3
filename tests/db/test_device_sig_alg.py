"""devices.sig_alg in the record (SQLite and PostgreSQL): imported, exported, counted, listed, and handed to
the dispatch with each terminal's claimed delivery."""

from __future__ import annotations

from warnengine.db.store import Store, VillageTarget
from warnengine.directory import County
from warnengine.model import Channel


async def test_imported_exported_listed_and_claimed(store: Store, small_county: County) -> None:
    c = small_county
    village = c.devices[0].cell_code
    here = [d for d in c.devices if d.cell_code == village]
    sm2 = {here[0].device_id}
    devices = [d.model_copy(update={"sig_alg": "sm2-sm3"}) if d.device_id in sm2 else d for d in c.devices]
    await store.import_directory(c.cells, c.households, c.people, devices, c.points)

    *_, exported, _ = await store.export_directory()
    assert exported == sorted(devices, key=lambda d: d.device_id)
    assert await store.device_sig_algs() == {"ed25519": len(devices) - 1, "sm2-sm3": 1}
    listed = {r["device_id"]: r["sig_alg"] for r in await store.list_devices(village=village)}
    assert listed == {d.device_id: ("sm2-sm3" if d.device_id in sm2 else "ed25519") for d in here}
    assert (await store.get_device(here[0].device_id) or {})["sig_alg"] == "sm2-sm3"

    now = store.clock.now()
    ids = [d.device_id for d in here]
    speakers = VillageTarget("w-1", 1, village, Channel.LOUDSPEAKER, [*ids, "spk-gone"], now + 600)
    due = await store.claim_due([speakers], resend_after=30, max_attempts=3)
    expected = {i: ("sm2-sm3" if i in sm2 else "ed25519") for i in ids} | {"spk-gone": None}
    assert {d.recipient: d.sig_alg for d in due} == expected  # an unknown terminal: None (the default)
    people = VillageTarget("w-1", 1, village, Channel.SMS, [c.people[0].person_id], now + 600)
    [person] = await store.claim_due([people], resend_after=30, max_attempts=3)
    assert person.sig_alg is None

    # A re-import that changes a terminal's algorithm applies from its next attempt.
    switched = [d.model_copy(update={"sig_alg": "ed25519"}) if d.device_id in sm2 else d for d in devices]
    await store.import_directory([], [], [], switched)
    store.clock.advance(31)  # type: ignore[attr-defined]
    due = await store.claim_due([speakers], resend_after=30, max_attempts=3)
    assert {d.recipient: d.sig_alg for d in due}[here[0].device_id] == "ed25519"
