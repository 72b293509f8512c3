"""What runs on the wall clock and talks to terminals: the MQTT bridges and the leader's timers.
A simulation (`build_app(live=False)`) leaves these out and drives the timers itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import structlog

from warnengine.devices.acks import LoudspeakerAckListener
from warnengine.devices.canaries import run_provider_canaries
from warnengine.devices.health import DeviceHealth
from warnengine.devices.link_tests import refresh_gauge, run_terminal_tests
from warnengine.devices.listener import DeviceReportListener
from warnengine.devices.pages import PAGE_CHANNELS, page_offline_terminals
from warnengine.escalate.ladder import escalate
from warnengine.escalate.upward import report_upward
from warnengine.obs import metrics
from warnengine.pipeline.pipeline import Pipeline
from warnengine.pipeline.resources import client_id
from warnengine.reconcile.stage import sweep
from warnengine.sim.world import SIMULATED, Answers, answers
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire import records
from warnengine.wire.loudspeaker import BadAck

log = structlog.get_logger("warnengine.app")
ANSWER_EVERY_S = 0.25  # wall seconds between the simulated population's answer batches
PER_MESSAGE = 500  # events per Kafka message


def add_live_services(p: Pipeline, bridges: bool = True, timers: bool = True) -> None:
    """`bridges`: MQTT acks and status in (the acks role); `timers`: reconciler, escalation, upward reports,
    link tests and offline pages (dispatch). Every role answers for the simulated population it sent to,
    when it has one."""
    _population(p)
    if bridges:
        _ack_bridge(p)
        _device_bridge(p)
    if timers:
        _leader_timers(p)
        _link_timers(p)


def _ack_bridge(p: Pipeline) -> None:
    rt, s = p.rt, p.settings

    @p.app.task  # type: ignore[untyped-decorator]
    async def ack_bridge() -> None:
        """MQTT terminal acks → the acks topic. MQTT messages are confirmed only after Kafka has them."""
        await rt.ready()
        host, port = s.mqtt_host_port()
        listener = LoudspeakerAckListener(
            host,
            port,
            client_id("acks", s.worker_id),
            "+",
            protocol=s.mqtt_protocol,
            shared_group=s.app_id if s.mqtt_shared_subscriptions else None,
            security=s.mqtt_security(),
        )

        async def bad(b: BadAck) -> None:
            await p.dead_letter("acks", b.reason, f"terminal ack on {b.topic}", b.payload, "mqtt", b.topic)

        await _keep_running("ack_bridge", lambda: listener.run(p.publish_acks, bad))


def _device_bridge(p: Pipeline) -> None:
    rt, s = p.rt, p.settings

    @p.app.task  # type: ignore[untyped-decorator]
    async def device_health_bridge() -> None:
        """Terminal status (Last Will, heartbeats) → devices table; silent terminals → offline."""
        await rt.ready()
        host, port = s.mqtt_host_port()
        listener = DeviceReportListener(
            host,
            port,
            client_id("devices", s.worker_id),
            protocol=s.mqtt_protocol,
            shared_group=f"{s.app_id}-devices" if s.mqtt_shared_subscriptions else None,
            security=s.mqtt_security(),
        )
        health = DeviceHealth(rt.store, p.dead_letter, s.terminal_offline_after_s)
        await _keep_running("device_bridge", lambda: listener.run(health, s.terminal_sweep_interval_s))


def _leader_timers(p: Pipeline) -> None:
    rt, s = p.rt, p.settings

    @p.app.timer(interval=s.reconcile_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def reconciler() -> None:
        await rt.ready()
        try:
            await sweep(
                rt.store,
                p.emit_warning,
                p.emit_village,
                s.reconcile_grace_s,
                s.resend_after_s,
                s.max_attempts,
                [c.value for c in rt.people_channels],
            )
            rt.reconcile_failures = 0
        except Exception as e:  # one failed sweep must not stop the timer; the next one retries
            rt.reconcile_failures += 1  # /ready is 503 after a few in a row
            log.error("reconcile_failed", error=repr(e), in_a_row=rt.reconcile_failures)

    tz = ZoneInfo(s.time_zone)

    @p.app.timer(interval=s.escalate_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def escalator() -> None:
        await rt.ready()
        try:
            await escalate(rt.store, rt.directory, rt.dissemination, p.emit_village)
        except Exception as e:  # one failed sweep must not stop the timer; the next one retries
            metrics.STAGE_ERRORS.labels("escalate").inc()
            log.error("escalation_failed", error=repr(e))
        try:  # upward reports (上报) on the same timer: due minutes live in the record, as the ladder's
            await report_upward(rt.store, rt.directory, rt.dissemination, p.emit_village, tz)
        except Exception as e:
            metrics.STAGE_ERRORS.labels("upward_reports").inc()
            log.error("upward_reports_failed", error=repr(e))


def _link_timers(p: Pipeline) -> None:
    """Issue 18: the daily link tests and canaries, and the pages for terminals offline too long."""
    rt, s = p.rt, p.settings

    def connect() -> AsyncMqtt:
        host, port = s.mqtt_host_port()
        return AsyncMqtt(
            host,
            port,
            client_id("linktest", s.worker_id),
            protocol=s.mqtt_protocol,
            security=s.mqtt_security(),
        )

    @p.app.timer(interval=s.link_test_interval_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def link_tests() -> None:
        await rt.ready()
        try:
            await run_terminal_tests(rt.store, connect, rt.signers, rt.clock, s.link_test_answer_s)
            if s.channels_file.exists():
                await run_provider_canaries(rt.store, s.channels_file, rt.clock.now())
        except Exception as e:  # one failed round must not stop the timer; the next one retries
            metrics.STAGE_ERRORS.labels("link_tests").inc()
            log.error("link_tests_failed", error=repr(e))

    @p.app.timer(interval=60.0, on_leader=True)  # type: ignore[untyped-decorator]
    async def offline_pages() -> None:
        await rt.ready()
        try:
            send = rt.send_people if rt.senders is not None else None
            channels = [c for c in PAGE_CHANNELS if c in rt.people_channels]
            await page_offline_terminals(
                rt.store, rt.directory, send, s.terminal_page_after_s, rt.clock.now(), s.time_zone, channels
            )
            await refresh_gauge(rt.store)  # a restarted leader reports the record's last successes at once
        except Exception as e:
            metrics.STAGE_ERRORS.labels("offline_pages").inc()
            log.error("offline_pages_failed", error=repr(e))


def _population(p: Pipeline) -> None:
    """The simulated population's answers → Kafka, where the webhooks and the app endpoint put them."""
    rt = p.rt

    @p.app.task  # type: ignore[untyped-decorator]
    async def simulated_population() -> None:
        await rt.ready()
        world = rt.population
        if world is None:
            return
        while True:
            try:
                await publish_answers(p, answers(world, SIMULATED))
            except Exception as e:  # a Kafka outage: those answers are lost, as a webhook's would be
                metrics.STAGE_ERRORS.labels("simulated_population").inc()
                log.error("simulated_answers_failed", error=repr(e))
            await asyncio.sleep(ANSWER_EVERY_S)


async def publish_answers(p: Pipeline, a: Answers) -> None:
    """As the provider webhooks and the app endpoint put them on Kafka (batched as the webhooks do)."""
    for i in range(0, len(a.events), PER_MESSAGE):
        await p.channel_events.send(value=records.encode_channel_events(a.events[i : i + PER_MESSAGE]))
    for ack in a.app:
        await p.app_acks.send(key=(ack.delivery_id or "").encode(), value=records.encode(ack))
    for e in a.events:
        metrics.SIMULATED_ANSWERS.labels(e.kind).inc()
    if a.app:
        metrics.SIMULATED_ANSWERS.labels("app").inc(len(a.app))


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
