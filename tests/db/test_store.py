"""The store against real SQLite and PostgreSQL: idempotent writes, forward-only acks, reconciler queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from warnengine.clock import ManualClock
from warnengine.db.store import DueDelivery, Store, VillageTarget
from warnengine.directory import County
from warnengine.model import (
    AckState,
    Area,
    Channel,
    Hazard,
    HazardWarning,
    MsgType,
    Severity,
    SpeakerAck,
    Status,
)


def _warning(identifier: str = "A1", version: int = 1, msg_type: MsgType = MsgType.ALERT) -> HazardWarning:
    return HazardWarning(
        warning_id=f"w-{identifier}",
        version=version,
        sender="test",
        identifier=identifier,
        sent=datetime(2026, 7, 1, 8, tzinfo=UTC),
        msg_type=msg_type,
        status=Status.ACTUAL,
        hazard=Hazard.METEO,
        severity=Severity.RED,
        event="暴雨",
        areas=[Area(polygons=[[(114.0, 35.0), (115.0, 35.0), (115.0, 36.0), (114.0, 35.0)]])],
    )


async def _claim(
    store: Store, w: HazardWarning, recipients: list[str], ttl: float = 3600
) -> list[DueDelivery]:
    target = VillageTarget(
        w.warning_id, w.version, "410526100201", Channel.LOUDSPEAKER, recipients, store.clock.now() + ttl
    )
    return await store.claim_due([target], resend_after=30, max_attempts=3)


def _clock(store: Store) -> ManualClock:
    assert isinstance(store.clock, ManualClock)
    return store.clock


async def test_migrations_are_idempotent(store: Store) -> None:
    from warnengine.db import migrate

    await migrate(store.engine)  # a second run at head changes nothing
    assert await store.villages() == []


async def test_directory_import_and_reimport(store: Store, small_county: County) -> None:
    c = small_county
    await store.import_directory(c.cells, c.households, c.people, c.devices)
    await store.import_directory(c.cells, c.households, c.people, c.devices)  # re-import updates in place
    villages = await store.villages()
    assert len(villages) == 15
    devices = await store.device_villages()
    assert len(devices) == len(c.devices)
    some_village = villages[0][0]
    by_village = await store.devices_by_village([some_village, "000000000000"])
    assert by_village[some_village] == sorted(d.device_id for d in c.devices if d.cell_code == some_village)
    assert by_village["000000000000"] == []


async def test_warning_saved_once(store: Store) -> None:
    w = _warning()
    assert await store.save_warning(w) == "new"
    assert await store.save_warning(w) == "duplicate"
    assert await store.load_warning(w.warning_id, 1) == w
    assert await store.warning_state(w.warning_id, 1) == "accepted"


async def test_resolution_then_stale_queries(store: Store) -> None:
    w = _warning()
    await store.save_warning(w)
    clock = _clock(store)
    clock.advance(30)
    assert [x.warning_id for x in await store.stale_warnings(clock.now() - 10)] == [w.warning_id]
    await store.set_resolved(w, ["410526100201", "410526100202"])
    await store.set_resolved(w, ["410526100201", "410526100202"])  # redelivery
    assert await store.warning_state(w.warning_id, 1) == "resolved"
    assert await store.stale_warnings(clock.now()) == []
    clock.advance(30)
    stalled = await store.unfinished_villages(clock.now() - 10, resend_after=30, max_attempts=5)
    assert stalled == [(w.warning_id, 1, "410526100201"), (w.warning_id, 1, "410526100202")]
    await store.finish_dispatch([], {}, [(w.warning_id, 1, "410526100201")])
    await store.touch_villages(stalled)
    assert await store.unfinished_villages(clock.now() - 10, 30, 5) == []


async def test_an_unresolved_version_is_re_emitted_ever_less_often(store: Store) -> None:
    w = _warning()
    await store.save_warning(w)
    clock = _clock(store)
    emitted = []
    for second in range(1, 400):
        clock.advance(1)
        if await store.stale_warnings(clock.now() - 10):
            emitted.append(second)
            await store.touch_warnings([(w.warning_id, 1)])
    # After 10 s (the grace), then as long again as it had waited (20, 40, 80, 160), then every 120 s.
    assert emitted == [10, 20, 40, 80, 160, 280]


async def test_deliveries_claimed_once_per_attempt_window(store: Store) -> None:
    w = _warning()
    await store.save_warning(w)
    clock = _clock(store)
    due = await _claim(store, w, ["spk-1", "spk-2"])
    assert sorted(d.recipient for d in due) == ["spk-1", "spk-2"]
    assert all(d.attempts == 0 for d in due)  # attempts before this claim; the claim recorded one
    await store.finish_dispatch([due[0].delivery_id], {due[1].delivery_id: "broker refused"}, [])
    # A redelivered task right away finds nothing due: no double send.
    assert await _claim(store, w, ["spk-1", "spk-2"]) == []
    clock.advance(31)  # no ack within resend_after: due again, same ids, the attempt counted
    resend = await _claim(store, w, ["spk-1", "spk-2"])
    assert {d.delivery_id for d in resend} == {d.delivery_id for d in due}
    assert all(d.attempts == 1 for d in resend)
    summary = await store.warning_summary(w.warning_id)
    assert summary["by_state"] == {"sent": 1, "pending": 1}


async def test_claim_spans_warnings_and_villages(store: Store) -> None:
    a, b = _warning("A"), _warning("B")
    for w in (a, b):
        await store.save_warning(w)
    now = store.clock.now()
    targets = [
        VillageTarget(a.warning_id, 1, "410526100201", Channel.LOUDSPEAKER, ["spk-1"], now + 60),
        VillageTarget(b.warning_id, 1, "410526100201", Channel.LOUDSPEAKER, ["spk-1"], now + 60),
        VillageTarget(b.warning_id, 1, "410526100202", Channel.LOUDSPEAKER, ["spk-2", "spk-3"], now + 60),
    ]
    due = await store.claim_due(targets, 30, 3)
    assert sorted((d.warning_id, d.village_code, d.recipient) for d in due) == [
        (a.warning_id, "410526100201", "spk-1"),
        (b.warning_id, "410526100201", "spk-1"),
        (b.warning_id, "410526100202", "spk-2"),
        (b.warning_id, "410526100202", "spk-3"),
    ]


async def test_acks_move_forward_only_and_count_duplicates(store: Store) -> None:
    w = _warning()
    await store.save_warning(w)
    clock = _clock(store)
    due = await _claim(store, w, ["spk-1"], ttl=60)
    did = due[0].delivery_id
    t = clock.now()
    counts = await store.apply_acks(
        [
            SpeakerAck(cmd_id=did, state=AckState.RECEIVED, at=t, device_id="spk-1"),
            SpeakerAck(cmd_id=did, state=AckState.PLAYED, at=t + 1, device_id="spk-1"),
            SpeakerAck(cmd_id="d-unknown", state=AckState.PLAYED, at=t, device_id="spk-1"),
        ]
    )
    assert counts == {"applied": 2, "duplicate": 0, "stale": 0, "unknown_delivery": 1, "device_mismatch": 0}
    counts = await store.apply_acks(
        [
            SpeakerAck(cmd_id=did, state=AckState.PLAYED, at=t + 2, device_id="spk-1"),  # duplicate
            SpeakerAck(
                cmd_id=did, state=AckState.PLAYING, at=t + 3, device_id="spk-1"
            ),  # late, behind played
        ]
    )
    assert counts == {"applied": 0, "duplicate": 1, "stale": 1, "unknown_delivery": 0, "device_mismatch": 0}
    summary = await store.warning_summary(w.warning_id)
    assert summary["by_state"] == {"played": 1}


async def test_unacked_delivery_stays_open_until_expiry_then_says_why(store: Store) -> None:
    w = _warning()
    await store.save_warning(w)
    clock = _clock(store)
    due = await _claim(store, w, ["spk-1"], ttl=60)
    await store.finish_dispatch([due[0].delivery_id], {}, [])
    assert await store.expire_deliveries() == 0
    assert (await store.warning_summary(w.warning_id))["by_state"] == {"sent": 1}
    clock.advance(61)
    assert await store.expire_deliveries() == 1
    assert (await store.warning_summary(w.warning_id))["by_state"] == {"expired": 1}


@pytest.mark.parametrize("payload", [b"\xff\xfe not utf-8", b"\x00\x01 NUL inside", "plain text"])
async def test_dead_letters_keep_payload(store: Store, payload: bytes | str) -> None:
    await store.dead_letter("normalise", "not_xml_or_json", "detail", payload, "meteo", "k")
    [row] = await store.dead_letters()
    assert row["reason"] == "not_xml_or_json"
    if isinstance(payload, bytes):
        assert row["payload"].startswith("b64:")
    else:
        assert row["payload"] == payload


async def test_update_supersedes_and_stops_the_older_version(store: Store) -> None:
    v1 = _warning("C")
    assert await store.save_warning(v1) == "new"
    await store.set_resolved(v1, ["410526100201"])
    due = await _claim(store, v1, ["spk-1"])
    await store.finish_dispatch([due[0].delivery_id], {}, [])
    v2 = _warning("C", version=2, msg_type=MsgType.UPDATE)
    assert await store.save_warning(v2) == "new"
    assert await store.warning_state(v1.warning_id, 1) == "superseded"
    assert (await store.warning_summary(v1.warning_id))["by_state"] == {"cancelled": 1}
    assert await store.live_versions([(v1.warning_id, 1), (v1.warning_id, 2)]) == {(v1.warning_id, 2)}
    assert await store.set_resolved(v1, ["410526100202"]) is False  # a late resolve of v1 records nothing


async def test_out_of_order_alert_after_update_is_not_broadcast(store: Store) -> None:
    assert await store.save_warning(_warning("D", version=2, msg_type=MsgType.UPDATE)) == "new"
    assert await store.save_warning(_warning("D")) == "superseded"
    assert await store.live_versions([("w-D", 1), ("w-D", 2)]) == {("w-D", 2)}


async def test_cancel_stops_every_version_even_before_the_alert(store: Store) -> None:
    assert await store.save_warning(_warning("E", version=2, msg_type=MsgType.CANCEL)) == "cancel"
    assert await store.save_warning(_warning("E")) == "superseded"  # the Alert arrived after its Cancel
    assert await store.live_versions([("w-E", 1)]) == set()
    v = _warning("F")
    await store.save_warning(v)
    await _claim(store, v, ["spk-1", "spk-2"])
    assert await store.save_warning(_warning("F", version=2, msg_type=MsgType.CANCEL)) == "cancel"
    assert (await store.warning_summary("w-F"))["by_state"] == {"cancelled": 2}
    assert await store.warning_state("w-F", 1) == "cancelled"


async def test_a_rejected_copy_does_not_undo_a_received_command(store: Store) -> None:
    w = _warning("R")
    await store.save_warning(w)
    [due] = await _claim(store, w, ["spk-1"])
    t = store.clock.now()
    await store.apply_acks(
        [SpeakerAck(cmd_id=due.delivery_id, state=AckState.RECEIVED, at=t, device_id="spk-1")]
    )
    counts = await store.apply_acks(
        [
            SpeakerAck(
                cmd_id=due.delivery_id,
                state=AckState.REJECTED,
                reason="replayed",
                at=t + 1,
                device_id="spk-1",
            )
        ]
    )
    assert counts["stale"] == 1
    assert (await store.warning_summary(w.warning_id))["by_state"] == {"received": 1}
