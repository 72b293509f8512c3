"""The metrics the stages record, against real SQLite and PostgreSQL, and the consumer-lag collector."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import select

from tests.acks.persons import rest_accounted
from tests.plan.conftest import planned_village
from warnengine.acks.people import apply_app_acks
from warnengine.acks.stage import apply_speaker_acks
from warnengine.clock import ManualClock
from warnengine.db import tables as t
from warnengine.db.store import Store, VillageTarget
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
from warnengine.obs import metrics
from warnengine.reconcile.stage import sweep
from warnengine.wire.records import AppAck


def _warning(identifier: str, severity: Severity = Severity.RED) -> HazardWarning:
    return HazardWarning(
        warning_id=f"w-{identifier}",
        version=1,
        sender="test",
        identifier=identifier,
        sent=datetime(2026, 7, 1, 8, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.METEO,
        severity=severity,
        event="暴雨",
        areas=[Area(polygons=[[(114.0, 35.0), (115.0, 35.0), (115.0, 36.0), (114.0, 35.0)]])],
    )


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _sent(store: Store, w: HazardWarning, recipients: list[str]) -> list[str]:
    target = VillageTarget(
        w.warning_id, w.version, "410526100201", Channel.LOUDSPEAKER, recipients, store.clock.now() + 3600
    )
    due = await store.claim_due([target], resend_after=30, max_attempts=3)
    by_recipient = {d.recipient: d.delivery_id for d in due}
    ids = [by_recipient[r] for r in recipients]  # in the recipients' order: acks name their terminal
    await store.finish_dispatch(ids, {}, [])
    return ids


async def test_time_to_ack_counts_each_played_delivery_once(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    w = _warning("T1")
    await store.save_warning(w)  # accepted at t0
    clock.advance(2)
    ids = await _sent(store, w, ["spk-1", "spk-2"])  # sent at t0 + 2
    clock.advance(5)
    before_ack = _value("warnengine_time_to_ack_seconds_count", channel="loudspeaker")
    before_sum = _value("warnengine_time_to_ack_seconds_sum", channel="loudspeaker")
    before_reach = _value("warnengine_warning_reach_seconds_sum", channel="loudspeaker", severity="red")
    acks = [
        SpeakerAck(cmd_id=ids[0], state=AckState.RECEIVED, at=clock.now(), device_id="spk-1"),
        SpeakerAck(cmd_id=ids[0], state=AckState.PLAYED, at=clock.now(), device_id="spk-1"),
        SpeakerAck(cmd_id=ids[1], state=AckState.PLAYING, at=clock.now(), device_id="spk-2"),  # not timed
    ]
    await apply_speaker_acks(acks, store)
    await apply_speaker_acks(acks, store)  # a redelivered batch must not be timed again
    assert _value("warnengine_time_to_ack_seconds_count", channel="loudspeaker") == before_ack + 1
    assert _value("warnengine_time_to_ack_seconds_sum", channel="loudspeaker") == before_sum + 5
    reach = _value("warnengine_warning_reach_seconds_sum", channel="loudspeaker", severity="red")
    assert reach == before_reach + 7


async def test_sweep_sets_unreached_gauges_and_drops_finished_warnings(store: Store) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    w = _warning("U1")
    await store.save_warning(w)
    ids = await _sent(store, w, ["spk-1", "spk-2", "spk-3"])
    clock.advance(1800)

    async def nothing(*_: object) -> None:
        return None

    await sweep(store, nothing, nothing, grace_s=10, resend_after_s=1e9, max_attempts=3)
    assert _value("warnengine_deliveries_unreached", channel="loudspeaker", severity="red") == 3
    age = _value("warnengine_deliveries_unreached_oldest_seconds", channel="loudspeaker", severity="red")
    assert age == 1800
    assert _value("warnengine_reconcile_last_sweep_timestamp_seconds") == clock.now()

    await store.apply_acks(
        [
            SpeakerAck(cmd_id=i, state=AckState.PLAYED, at=clock.now(), device_id=f"spk-{n}")
            for n, i in enumerate(ids, 1)
        ]
    )
    await sweep(store, nothing, nothing, grace_s=10, resend_after_s=1e9, max_attempts=3)
    # Every terminal played: the series disappears rather than sticking at its last value.
    assert (
        REGISTRY.get_sample_value(
            "warnengine_deliveries_unreached", {"channel": "loudspeaker", "severity": "red"}
        )
        is None
    )


async def test_sweep_sets_the_households_gauge_the_red_alert_watches(
    store: Store, small_county: County
) -> None:
    """deploy/prometheus/alerts.yml fires on warnengine_households{severity="red", state="unreached"}."""
    w, _ = await planned_village(store, small_county, "w-gauge")
    homes = await store.unreached_households(w.warning_id)
    assert homes

    async def nothing(*_: object) -> None:
        return None

    await sweep(store, nothing, nothing, grace_s=10, resend_after_s=1e9, max_attempts=3)
    assert _value("warnengine_households", severity="red", state="unreached") == len(homes)
    # The last member answers in the app: that household moves to reached.
    async with store.engine.connect() as conn:
        d = t.deliveries.c
        did = (
            await conn.execute(
                select(d.delivery_id).where(d.warning_id == w.warning_id, d.household_id == homes[0][0])
            )
        ).scalar()
        person = await conn.scalar(select(d.person_id).where(d.delivery_id == did))
    assert did
    await rest_accounted(store, w.warning_id, [person])  # 到人: the answer completes the household
    assert await apply_app_acks([AppAck(delivery_id=did, at=store.clock.now())], store) == 1
    await sweep(store, nothing, nothing, grace_s=10, resend_after_s=1e9, max_attempts=3)
    assert _value("warnengine_households", severity="red", state="unreached") == len(homes) - 1
    assert _value("warnengine_households", severity="red", state="reached") == 1


@dataclass(frozen=True, order=True)
class _TP:
    topic: str
    partition: int


class _FakeConsumer:
    def __init__(self) -> None:
        self._read_offset = {_TP("a", 0): 9, _TP("a", 1): None, _TP("b", 0): 50}
        self._committed_offset = {_TP("a", 1): 3}

    def assignment(self) -> set[_TP]:
        return {_TP("a", 0), _TP("a", 1), _TP("b", 0)}

    def highwater(self, tp: _TP) -> int:
        # b/0 is "short" the way Tansu reports it: lag must clamp at 0, never go negative.
        return {"a": 20, "b": 40}[tp.topic]


def test_consumer_lag_per_topic_from_consumer_state() -> None:
    reg = CollectorRegistry()
    reg.register(metrics.ConsumerLag(_FakeConsumer))
    # a/0 read up to 9 of 20 → 10 behind; a/1 committed at 3 → 17 behind; b/0 clamped.
    assert reg.get_sample_value("warnengine_consumer_lag", {"topic": "a"}) == 27
    assert reg.get_sample_value("warnengine_consumer_lag", {"topic": "b"}) == 0
    assert reg.get_sample_value("warnengine_assigned_partitions", {"topic": "a"}) == 2


def test_consumer_lag_is_empty_not_an_error_while_the_consumer_starts() -> None:
    def broken() -> object:
        raise RuntimeError("consumer not started")

    reg = CollectorRegistry()
    reg.register(metrics.ConsumerLag(lambda: None))
    assert b"warnengine_consumer_lag" in generate_latest(reg)
    lag = metrics.ConsumerLag(broken)
    assert [list(m.samples) for m in lag.collect()] == [[], []]
