"""Device health in the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import select

from warnengine.clock import ManualClock
from warnengine.db import tables as t
from warnengine.db.store import Store, VillageTarget
from warnengine.model import Channel, Device

VILLAGE = "530102001001"


async def _devices(store: Store, *ids: str) -> None:
    await store.import_directory(
        [], [], [], [Device(device_id=d, cell_code=VILLAGE, lon=102.7, lat=25.0) for d in ids]
    )


def _status(device: str, online: bool, reason: str | None = None, **kw: object) -> dict[str, object]:
    return {
        "device_id": device,
        "online": online,
        "reason": reason,
        "volume": None,
        "playing": None,
        "firmware": None,
        **kw,
    }


async def test_status_changes_are_reported_once_with_open_warnings(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    await _devices(store, "spk-a", "spk-b")
    assert await store.device_health_counts() == {"online": 0, "offline": 0, "unknown": 2}

    changes, unknown = await store.record_device_status(
        [_status("spk-a", True, firmware="ref/1", volume=80), _status("spk-x", True)]
    )
    assert [(c.device_id, c.online) for c in changes] == [("spk-a", True)]
    assert unknown == ["spk-x"]
    again, _ = await store.record_device_status([_status("spk-a", True)])  # a heartbeat: no change
    assert again == []

    # A warning is out to spk-a, unfinished, when its Last Will arrives.
    target = VillageTarget("w-1", 1, VILLAGE, Channel.LOUDSPEAKER, ["spk-a"], clock.now() + 600)
    await store.claim_due([target], resend_after=30, max_attempts=5)
    changes, _ = await store.record_device_status([_status("spk-a", False, "will")])
    assert [(c.device_id, c.online, c.reason, c.open_warnings) for c in changes] == [
        ("spk-a", False, "will", ("w-1",))
    ]
    clock.advance(5)
    assert (await store.record_device_status([_status("spk-a", False, "will")]))[0] == []  # retained again

    async with store.engine.connect() as conn:
        row = (await conn.execute(select(t.devices).where(t.devices.c.device_id == "spk-a"))).one()
        audit = (await conn.execute(select(t.audit_log).where(t.audit_log.c.actor == "devices"))).all()
    assert (row.online, row.offline_reason, row.firmware, row.volume) == (False, "will", "ref/1", 80)
    assert row.offline_since == clock.now() - 5  # the first report, not the retained repeat
    assert [(a.action, a.subject, json.loads(a.detail)["open_warnings"]) for a in audit] == [
        ("terminal_offline", "spk-a", ["w-1"])
    ]
    assert [d["device_id"] for d in await store.offline_devices([VILLAGE])] == ["spk-a"]


async def test_silent_terminals_are_swept_offline_once(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    await _devices(store, "spk-a", "spk-b", "spk-c")
    await store.record_device_status([_status("spk-a", True), _status("spk-b", True)])
    await store.record_device_results([("spk-b", "played", None), ("spk-a", "failed", "sink_error")])
    clock.advance(60)
    await store.record_device_results([("spk-b", "received", None)])  # an ack is proof of life too
    clock.advance(40)
    swept = await store.sweep_silent_devices(90)
    assert [(c.device_id, c.reason) for c in swept] == [("spk-a", "silent")]
    assert await store.sweep_silent_devices(90) == []  # reported once
    assert await store.device_health_counts() == {"online": 1, "offline": 1, "unknown": 1}
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(t.devices).order_by(t.devices.c.device_id))).all()
    assert [(r.device_id, r.last_result, r.last_reason) for r in rows] == [
        ("spk-a", "failed", "sink_error"),
        ("spk-b", "played", None),
        ("spk-c", None, None),
    ]
    # Only a status says online again.
    changes, _ = await store.record_device_status([_status("spk-a", True)])
    assert [(c.device_id, c.online) for c in changes] == [("spk-a", True)]
