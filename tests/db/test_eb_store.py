"""The EB platform's record on SQLite and PostgreSQL: one EBM id per warning version whoever asks first,
its areas growing with re-sends, the previous version's EBM, and the terminals behind the platform."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from warnengine.db.store import Store
from warnengine.model import Device
from warnengine.model.records import EbMessage

V1, V2 = "341122100201", "341122100202"


async def test_one_ebm_per_version_areas_grow(store: Store) -> None:
    first, second = await asyncio.gather(
        store.eb_message("w-1", 1, ids("1"), [V1]), store.eb_message("w-1", 1, ids("2"), [V2])
    )
    assert first == second  # two workers racing: one id
    assert await store.eb_message("w-1", 1, ids("3"), [V1]) == first
    assert await store.eb_lookup(first) == EbMessage(first, "w-1", 1, (V1, V2))
    assert await store.eb_lookup("3" * 35) is None
    assert await store.eb_previous("w-1", 1) is None
    await store.eb_message("w-1", 2, ids("4"), [V1])
    cancel = await store.eb_message("w-1", 3, ids("5"), [V1])
    assert await store.eb_previous("w-1", 3) == "4" * 35 and cancel == "5" * 35
    # The day's numbers wrapped: an id another version holds is passed over for the next one.
    taken = iter([first, "6" * 35])
    assert await store.eb_message("w-2", 1, lambda: next(taken), [V1]) == "6" * 35


def ids(digit: str) -> Callable[[], str]:
    return lambda: digit * 35


async def test_terminals_behind_the_platform(store: Store) -> None:
    devices = [
        Device(device_id="43411221002011000000001", cell_code=V1, lon=0, lat=0, provider="eb"),
        Device(device_id="43411221002021000000001", cell_code=V2, lon=0, lat=0, provider="eb"),
        Device(device_id="spk-1", cell_code=V1, lon=0, lat=0),
    ]
    await store.import_directory([], [], [], devices)
    assert await store.eb_devices() == {V1: ["43411221002011000000001"], V2: ["43411221002021000000001"]}
    assert await store.eb_devices([V1]) == {V1: ["43411221002011000000001"]}
    exported = (await store.export_directory())[3]
    assert [d.provider for d in exported] == ["eb", "eb", "mqtt"]
    # Reported online once; the platform sends no heartbeat, so silence does not make them offline.
    row = {"online": True, "volume": None, "playing": None, "firmware": None, "reason": None}
    await store.record_device_status([{**row, "device_id": d.device_id} for d in devices])
    store.clock.advance(3600)  # type: ignore[attr-defined]
    assert [c.device_id for c in await store.sweep_silent_devices(600)] == ["spk-1"]
