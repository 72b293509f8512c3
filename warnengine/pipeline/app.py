"""The Faust app: topics, agents, the reconciler timer, the ack bridge and /metrics.

Every agent runs with concurrency 1 and wraps each event in `guarded`, so an exception never acks an
event away unrecorded (faust-streaming #606/#707). Stages are idempotent; the database is the record.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from channels.base import ChannelEvent
from warnengine.acks.people import apply_app_acks, apply_channel_events, parse_events
from warnengine.acks.stage import apply_speaker_acks
from warnengine.clock import Clock
from warnengine.devices.acks import LoudspeakerAckListener
from warnengine.devices.health import DeviceHealth
from warnengine.devices.listener import DeviceReportListener
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.stage import dispatch_loudspeakers
from warnengine.errors import BadInput
from warnengine.escalate.ladder import escalate
from warnengine.model import HazardWarning, SpeakerAck
from warnengine.normalise.stage import accept_feed, digest
from warnengine.obs import metrics
from warnengine.pipeline.faust_tuning import set_fetch_max_wait
from warnengine.pipeline.guard import DeadLetterFn, guarded
from warnengine.pipeline.resources import Resources, client_id
from warnengine.plan.stage import resolve
from warnengine.reconcile.stage import EmitVillage, EmitWarning, sweep
from warnengine.settings import Settings
from warnengine.wire import topics
from warnengine.wire.loudspeaker import BadAck

log = structlog.get_logger("warnengine.app")
T = TypeVar("T")


def build_app(
    settings: Settings, clock: Clock | None = None, resources: Resources | None = None, live: bool = True
) -> faust.App:
    """The worker's app. `live=False` (a simulation) leaves out what runs on the wall clock or talks to
    MQTT — the ack and device bridges, the reconciler and escalation timers — for the caller to drive."""
    set_fetch_max_wait(settings.fetch_max_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=settings.kafka_url,
        store="memory://",  # no state of record in Faust tables (see design.md): the database holds it
        datadir=str(settings.data_dir / f"faust-{settings.web_port}"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=False,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        key_serializer="raw",
        value_serializer="raw",
    )
    rt = resources or Resources(settings, clock)

    def topic(*names: str) -> faust.TopicT:
        return app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    feeds = topic(*(topics.feed_topic(s) for s in topics.FEED_SOURCES))
    warnings_t = topic(topics.WARNINGS)
    villages_t = topic(topics.VILLAGE_TASKS)
    acks_t = topic(topics.ACKS)
    dead_t = topic(topics.DEAD_LETTER)

    async def dead_letter(
        stage: str, reason: str, detail: str, payload: bytes, source: str | None, key: str | None
    ) -> None:
        await rt.store.dead_letter(stage, reason, detail, payload, source, key)
        record = topics.DeadLetter(
            stage=stage,
            reason=reason,
            detail=detail,
            source=source,
            key=key,
            payload=payload.decode("utf-8", "replace"),
            at=rt.clock.now(),
        )
        await dead_t.send(key=stage.encode(), value=record.model_dump_json().encode())

    async def emit_warning(w: HazardWarning) -> None:
        await warnings_t.send(key=w.warning_id.encode(), value=w.model_dump_json().encode())

    async def emit_village(warning_id: str, version: int, village: str) -> None:
        task = topics.VillageTask(warning_id=warning_id, version=version, village_code=village)
        await villages_t.send(
            key=topics.village_key(warning_id, village), value=task.model_dump_json().encode()
        )

    async def emit_villages(warning_id: str, version: int, villages: Sequence[str]) -> None:
        """All of a warning's village tasks handed to the producer at once, not one awaited send after
        another: awaiting each let the dispatch agent run between sends, so a county's 800 tasks trickled
        out over half a second and the dispatch took them in small batches."""
        await asyncio.gather(*(emit_village(warning_id, version, v) for v in villages))

    @app.agent(feeds, name="normalise")
    async def normalise_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        async for event in stream.events():
            raw = event.value
            source = topics.source_of(event.message.topic)
            key = _text(event.key)

            async def work(raw: bytes = raw, source: str = source) -> None:
                w, verdict = await accept_feed(raw, source, rt.store, rt.feed_policy)
                with structlog.contextvars.bound_contextvars(warning_id=w.warning_id):
                    log.info(
                        "warning_accepted",
                        version=w.version,
                        hazard=w.hazard,
                        severity=w.severity,
                        msg_type=w.msg_type,
                        source=source,
                        verdict=verdict,
                    )
                if verdict != "superseded":
                    await emit_warning(w)

            ok = await guarded("normalise", work, raw, key, source, dead_letter)
            if not ok:
                await _record_rejected(rt, raw, source)

    @app.agent(warnings_t, name="resolve")
    async def resolve_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        async for event in stream.events():
            raw = event.value

            async def work(raw: bytes = raw) -> None:
                w = HazardWarning.model_validate_json(raw)
                early: set[str] = set()

                async def speakers_first(villages: list[str]) -> None:
                    # The loudspeakers start while the people's plan is written.
                    await emit_villages(w.warning_id, w.version, villages)
                    early.update(villages)

                villages = await resolve(
                    w, rt.directory, rt.dissemination, rt.store, settings.command_ttl_s, speakers_first
                )
                # Again where there are people's deliveries to send.
                again = [v for v in villages if v not in early or rt.people_channels]
                await emit_villages(w.warning_id, w.version, again)
                log.info(
                    "warning_resolved", warning_id=w.warning_id, version=w.version, villages=len(villages)
                )

            await guarded("resolve", work, raw, _text(event.key), None, dead_letter)

    async def parse_each(
        stage: str, events: Sequence[faust.types.EventT[bytes]], parse: Callable[[bytes], Awaitable[T]]
    ) -> list[tuple[T, bytes]]:
        """Parse a batch event by event, so one bad record is dead-lettered alone."""
        out: list[tuple[T, bytes]] = []
        for ev in events:
            raw = ev.value

            async def work(raw: bytes = raw) -> None:
                out.append((await parse(raw), raw))

            await guarded(stage, work, raw, _text(ev.key), None, dead_letter)
        return out

    def dead_letter_each(raws: list[bytes]) -> DeadLetterFn:
        async def fn(
            stage: str, reason: str, detail: str, _p: bytes, source: str | None, key: str | None
        ) -> None:
            for raw in raws:
                await dead_letter(stage, reason, detail, raw, source, key)

        return fn

    async def village_task(raw: bytes) -> tuple[HazardWarning, str]:
        task = topics.VillageTask.model_validate_json(raw)
        w = await rt.warning(task.warning_id, task.version)
        if w is None:  # a task can only exist for a recorded warning: this one is forged or foreign
            raise BadInput("unknown_warning", f"{task.warning_id} v{task.version} is not recorded")
        return w, task.village_code

    @app.agent(villages_t, name="dispatch")
    async def dispatch_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        # take_events acks a batch only when the next one is asked for, i.e. after this loop body ran.
        async for events in _batches(stream, settings):
            parsed = await parse_each("dispatch", events, village_task)
            if not parsed:
                continue
            tasks = [t for t, _ in parsed]

            async def work(tasks: list[tuple[HazardWarning, str]] = tasks) -> None:
                res = await dispatch_loudspeakers(tasks, rt.store, rt.speaker, rt.signers, rt.policy)
                if rt.people_channels:
                    await dispatch_people(tasks, rt.store, rt.send_people, rt.policy, rt.people_channels)
                if res.due:
                    for w, village in tasks:  # one line per village, so a duty officer can grep a village
                        log.info("village_dispatched", warning_id=w.warning_id, village=village)
                    log.info(
                        "batch_dispatched",
                        villages=res.villages,
                        due=res.due,
                        sent=res.sent,
                        failed=res.failed,
                        **res.phases,
                    )

            await guarded("dispatch", work, b"", None, None, dead_letter_each([r for _, r in parsed]))

    async def ack_batch(raw: bytes) -> list[SpeakerAck]:
        return topics.AckBatch.model_validate_json(raw).acks

    @app.agent(acks_t, name="acks")
    async def acks_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        async for events in _batches(stream, settings):
            parsed = await parse_each("acks", events, ack_batch)
            acks = [a for batch, _ in parsed for a in batch]
            if not acks:
                continue

            async def work(acks: list[SpeakerAck] = acks) -> None:
                await apply_speaker_acks(acks, rt.store)

            await guarded("acks", work, b"", None, None, dead_letter_each([r for _, r in parsed]))

    channel_events_t = topic(topics.CHANNEL_EVENTS)
    app_acks_t = topic(topics.ACKS_APP)

    @app.agent(channel_events_t, name="people-acks")
    async def people_acks_agent(stream: faust.StreamT[bytes]) -> None:
        """Provider receipts and replies (webhooks on the API) → deliveries and households."""
        await rt.ready()
        async for events in _batches(stream, settings):
            parsed = await parse_each("people-acks", events, _channel_events)
            batch = [e for evs, _ in parsed for e in evs]
            if not batch:
                continue

            async def work(batch: list[ChannelEvent] = batch) -> None:
                await apply_channel_events(batch, rt.store, rt.directory)

            await guarded("people-acks", work, b"", None, None, dead_letter_each([r for _, r in parsed]))

    @app.agent(app_acks_t, name="app-acks")
    async def app_acks_agent(stream: faust.StreamT[bytes]) -> None:
        """Acknowledgements from the county's app (POST /api/v1/acks) → deliveries and households."""
        await rt.ready()
        async for events in _batches(stream, settings):
            parsed = await parse_each("app-acks", events, _app_ack)
            docs = [d for d, _ in parsed]
            if not docs:
                continue

            async def work(docs: list[dict[str, Any]] = docs) -> None:
                await apply_app_acks(docs, rt.store)

            await guarded("app-acks", work, b"", None, None, dead_letter_each([r for _, r in parsed]))

    if live:
        _live_services(app, rt, settings, acks_t, dead_letter, emit_warning, emit_village)

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]
    async def directory_refresher() -> None:
        """Every worker: pick up a directory imported while it runs (no restart needed)."""
        await rt.ready()
        try:
            await rt.refresh_directory()
        except Exception as e:  # the old directory keeps working; the next tick retries
            log.warning("directory_refresh_failed", error=repr(e))

    metrics.watch_consumer(lambda: app.consumer)  # consumer lag per topic, read at scrape time

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/ready")
    async def ready_page(web: Any, request: Any) -> Any:
        """200 once resources are up and partitions are assigned: for demos, tests and k8s probes."""
        assigned = app.consumer.assignment() if app.consumer else set()
        ok = rt.started and bool(assigned)
        return web.json({"ready": ok, "partitions": len(assigned)}, status=200 if ok else 503)

    app.warnengine_resources = rt  # type: ignore[attr-defined]
    app.warnengine_emit = (emit_warning, emit_village)  # type: ignore[attr-defined]
    return app


def _live_services(
    app: faust.App,
    rt: Resources,
    settings: Settings,
    acks_t: faust.TopicT,
    dead_letter: DeadLetterFn,
    emit_warning: EmitWarning,
    emit_village: EmitVillage,
) -> None:
    """The MQTT bridges and the leader's timers: what runs on the wall clock and talks to terminals."""

    @app.task  # type: ignore[untyped-decorator]
    async def ack_bridge() -> None:
        """MQTT terminal acks → the acks topic. MQTT messages are confirmed only after Kafka has them."""
        await rt.ready()
        s = settings
        host, port = s.mqtt_host_port()
        listener = LoudspeakerAckListener(
            host,
            port,
            client_id("acks", s.worker_id),
            "+",
            protocol=s.mqtt_protocol,
            shared_group=s.app_id if s.mqtt_shared_subscriptions else None,
        )

        async def forward(acks: list[SpeakerAck]) -> None:
            fut = await acks_t.send(value=topics.AckBatch(acks=acks).model_dump_json().encode())
            await fut

        async def bad(b: BadAck) -> None:
            await dead_letter("acks", b.reason, f"terminal ack on {b.topic}", b.payload, "mqtt", b.topic)

        await _keep_running("ack_bridge", lambda: listener.run(forward, bad))

    @app.task  # type: ignore[untyped-decorator]
    async def device_health_bridge() -> None:
        """Terminal status (Last Will, heartbeats) and acks → devices table; silent terminals → offline."""
        await rt.ready()
        s = settings
        host, port = s.mqtt_host_port()
        listener = DeviceReportListener(
            host,
            port,
            client_id("devices", s.worker_id),
            protocol=s.mqtt_protocol,
            shared_group=f"{s.app_id}-devices" if s.mqtt_shared_subscriptions else None,
        )
        health = DeviceHealth(rt.store, dead_letter, s.terminal_offline_after_s)
        await _keep_running("device_bridge", lambda: listener.run(health, s.terminal_sweep_interval_s))

    @app.timer(interval=settings.reconcile_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def reconciler() -> None:
        await rt.ready()
        try:
            await sweep(
                rt.store,
                emit_warning,
                emit_village,
                settings.reconcile_grace_s,
                settings.resend_after_s,
                settings.max_attempts,
                [c.value for c in rt.people_channels],
            )
        except Exception as e:  # one failed sweep must not stop the timer; the next one retries
            log.error("reconcile_failed", error=repr(e))

    @app.timer(interval=settings.escalate_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def escalator() -> None:
        await rt.ready()
        try:
            await escalate(rt.store, rt.directory, rt.dissemination, emit_village)
        except Exception as e:  # one failed sweep must not stop the timer; the next one retries
            metrics.STAGE_ERRORS.labels("escalate").inc()
            log.error("escalation_failed", error=repr(e))


async def _record_rejected(rt: Resources, raw: bytes, source: str) -> None:
    metrics.FEED_MESSAGES.labels(source, "rejected").inc()
    try:
        await rt.store.record_feed(digest(raw), source, "dead_letter")
    except Exception as e:  # the dead-letter row is the record; this is bookkeeping
        log.warning("feed_record_failed", error=repr(e))


async def _keep_running(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """A bridge must outlive a Kafka, MQTT or database outage; whatever it had not confirmed to the MQTT
    broker is redelivered to it on reconnect (persistent session, manual ack)."""
    while True:
        try:
            await run()
        except Exception as e:
            metrics.STAGE_ERRORS.labels(name).inc()
            log.error("bridge_failed", bridge=name, error=repr(e), retry_in_s=2)
            await asyncio.sleep(2)


def _batches(stream: faust.StreamT[bytes], settings: Settings) -> Any:
    """Batches of events; a batch is acked only when the next one is asked for (after it was handled)."""
    assert isinstance(stream, faust.Stream)
    return stream.take_events(settings.dispatch_batch, within=settings.batch_window_s)


async def _channel_events(raw: bytes) -> list[ChannelEvent]:
    try:
        return parse_events(raw)
    except (ValueError, TypeError) as err:
        raise BadInput("bad_channel_event", str(err)) from err


async def _app_ack(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as err:
        raise BadInput("bad_app_ack", str(err)) from err
    if not isinstance(doc, dict) or not isinstance(doc.get("at"), (int, float)):
        raise BadInput("bad_app_ack", "an app ack is a JSON object with a numeric `at`")
    return doc


def _text(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None
