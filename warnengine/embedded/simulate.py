"""`warnengine simulate`: a scenario through the real pipeline, in stepped engine time.

The worker's own Faust app (`build_app`) runs in this process against an embedded Kafka-protocol broker
(Tansu) and a SQLite record: the warning goes in as a feed message and passes normalise → resolve/plan →
dispatch as Kafka events; terminal acks, provider receipts and replies, and app acknowledgements come back
on the topics the MQTT bridge, the webhooks and the API produce to, and the ack agents apply them. Only the
world is simulated (`warnengine.sim.world`): it sits where the MQTT link and the SMS/WeChat/app providers
sit, and visitors report the way the API's visit endpoint does.

Time is a `ManualClock` the driver steps. The reconciler and the escalation ladder are the leader's timers
in a worker; here the driver runs the same functions once per step (escalation) and once per simulated
minute (reconciler), with their re-emits going over Kafka. Before each step the driver waits until the
pipeline is idle: a Faust sensor counts the messages sent to each consumed topic and those fully handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faust
from faust.sensors import Sensor
from faust.worker import Worker
from sqlalchemy import select

from channels.base import Outgoing, SendResult
from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.people import PEOPLE
from warnengine.embedded.brokers import EmbeddedBrokers, free_port
from warnengine.escalate.ladder import escalate
from warnengine.escalate.upward import report_upward
from warnengine.model import Channel
from warnengine.pipeline.app import build_pipeline
from warnengine.pipeline.pipeline import Pipeline
from warnengine.pipeline.resources import Resources
from warnengine.settings import Settings
from warnengine.sim.field import field_work, with_shelters
from warnengine.sim.run import (
    DISPATCH,
    RECONCILE_EVERY_S,
    SIM_TZ,
    SOURCE,
    START,
    county_code,
    feed_message,
    reconcile,
)
from warnengine.sim.scenario import Scenario
from warnengine.sim.summary import summarise
from warnengine.sim.world import Answers, World, answers, visitors_walk
from warnengine.wire import records, topics

# The topics the worker consumes; the pipeline is idle when each has handled all that was sent to it.
CONSUMED = (
    topics.feed_topic(SOURCE),
    topics.WARNINGS,
    topics.VILLAGE_TASKS,
    topics.ACKS,
    topics.CHANNEL_EVENTS,
    topics.ACKS_APP,
)
PER_MESSAGE = 500  # acks or provider events per Kafka message (the bridge and webhooks batch too)
SETTLE_TIMEOUT_S = 600.0  # one step's work (the plan of a county-wide warning) must be done by then


class Progress(Sensor):
    """Messages sent to each watched topic (by anyone in this process) and messages fully handled (every
    stream acked them, i.e. the agent's loop body ran)."""

    def __init__(self, watched: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watched = frozenset(watched)
        self.sent: Counter[str] = Counter()
        self.done: Counter[str] = Counter()

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        if topic in self.watched:
            self.sent[topic] += 1
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        self.done[tp.topic] += 1

    def behind(self) -> dict[str, int]:
        return {k: self.sent[k] - self.done[k] for k in self.watched if self.sent[k] > self.done[k]}

    async def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.behind():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not settle in {timeout:g} s: {self.behind()}")
            await asyncio.sleep(0.005)


class SimResources(Resources):
    """A worker's resources with the world in place of the MQTT link and the people's providers."""

    def __init__(self, settings: Settings, clock: ManualClock, sc: Scenario, county: County) -> None:
        super().__init__(settings, clock)
        self.manual_clock, self.sc, self.county = clock, sc, county
        self.policy = DISPATCH
        self.world: World | None = None

    async def _start_channels(self) -> None:
        self.world = World(self.sc, self.county, self.directory, self.manual_clock)
        self.speaker = self.world  # type: ignore[assignment]  # it implements the adapter's calls
        self.people_channels = PEOPLE

    async def send_people(self, channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:
        assert self.world is not None
        return await self.world.send_people(channel, batch)


def run_pipeline(
    sc: Scenario, county: County, policy_file: Path, workdir: Path, html: Path | None = None
) -> dict[str, Any]:
    """Runs the scenario; returns the summary (as `warnengine.sim.run.simulate` does)."""
    county = with_shelters(sc.field, county)
    brokers = EmbeddedBrokers(workdir / "brokers", with_mqtt=False)
    brokers.start()
    try:
        settings = Settings(
            data_dir=workdir,
            kafka_url=brokers.kafka_url,
            database_url=f"sqlite+aiosqlite:///{(workdir / 'sim.db').resolve()}",
            policy_file=policy_file,
            trust_file=None,
            web_port=free_port(),
            topic_partitions=4,
        )
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(_import(settings, county))
        finally:
            loop.close()
        asyncio.set_event_loop(asyncio.new_event_loop())  # Faust's worker runs on the current loop
        return _run_worker(settings, sc, county, html)
    finally:
        brokers.stop()


async def _import(settings: Settings, county: County) -> None:
    engine = connect(settings.db_url())
    await migrate(engine)
    store = Store(engine, ManualClock(START))
    try:
        await store.import_directory(**county.records())
    finally:
        await store.close()


def _run_worker(settings: Settings, sc: Scenario, county: County, html: Path | None) -> dict[str, Any]:
    clock = ManualClock(START)
    rt = SimResources(settings, clock, sc, county)
    pipeline = build_pipeline(settings, clock, rt, live=False)
    app = pipeline.app
    progress = Progress(CONSUMED)
    app.sensors.add(progress)
    out: dict[str, Any] = {}

    @app.task  # type: ignore[untyped-decorator]
    async def simulation() -> None:
        try:
            out["summary"] = await _drive(pipeline, rt, sc, progress, html)
        except Exception as e:  # reported by the caller; the worker must still stop
            out["error"] = e
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful stop

    # stdout carries the summary: the worker's start-up spinner goes to stderr.
    worker = Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    with contextlib.suppress(SystemExit):  # how a Faust worker returns
        worker.execute_from_commandline()
    if "error" in out:
        raise out["error"]
    if "summary" not in out:
        raise RuntimeError("the simulation's worker stopped before the simulation ended")
    summary: dict[str, Any] = out["summary"]
    return summary


async def _drive(
    p: Pipeline, rt: SimResources, sc: Scenario, progress: Progress, html: Path | None
) -> dict[str, Any]:
    await rt.ready()
    await _assigned(p.app)
    clock, store = rt.manual_clock, rt.store
    world = rt.world
    assert world is not None
    feed_t = p.topic(topics.feed_topic(SOURCE))

    async def publish(a: Answers) -> None:
        """As the MQTT ack bridge, the provider webhooks and the app endpoint put them on Kafka."""
        for i in range(0, len(a.played), PER_MESSAGE):
            await p.publish_acks(a.played[i : i + PER_MESSAGE])
        for i in range(0, len(a.events), PER_MESSAGE):
            await p.channel_events.send(value=records.encode_channel_events(a.events[i : i + PER_MESSAGE]))
        for ack in a.app:
            await p.app_acks.send(key=(ack.delivery_id or "").encode(), value=records.encode(ack))

    t0 = clock.now()
    await feed_t.send(key=f"sim-{sc.seed}".encode(), value=feed_message(sc, county_code(rt.county), t0))
    await progress.settle()
    warning_id = await _the_warning(store)
    end = t0 + sc.minutes * 60
    next_sweep = t0 + RECONCILE_EVERY_S
    while clock.now() <= end:
        await publish(answers(world))
        await progress.settle()
        await escalate(store, rt.directory, rt.dissemination, p.emit_village)
        await report_upward(store, rt.directory, rt.dissemination, p.emit_village, SIM_TZ)
        await visitors_walk(sc, world, store, warning_id)
        await field_work(sc.field, world, store, warning_id)
        if clock.now() >= next_sweep:
            next_sweep += RECONCILE_EVERY_S
            await reconcile(store, p.emit_warning, p.emit_village)
        await progress.settle()
        clock.advance(sc.step_s)
    summary = await summarise(store, sc, warning_id, t0, html)
    summary["pipeline"] = {"kafka": True, "messages": dict(sorted(progress.done.items()))}
    return summary


async def _assigned(app: faust.App, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (app.consumer and app.consumer.assignment()):
        if time.monotonic() > deadline:
            raise TimeoutError("the simulation's worker got no partitions")
        await asyncio.sleep(0.05)


async def _the_warning(store: Store) -> str:
    async with store.engine.connect() as conn:
        ids = [str(r.warning_id) for r in await conn.execute(select(t.warnings.c.warning_id).distinct())]
    if len(ids) != 1:
        raise RuntimeError(f"expected the scenario's one warning in the record, found {ids}")
    return ids[0]
