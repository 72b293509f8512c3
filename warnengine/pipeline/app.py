"""The worker's Faust app: topics and agents (agents.py), the bridges and leader timers (live.py), the
directory refresher, /metrics and /ready.

No state of record lives in Faust tables (docs/design.md): the database holds it, so the app's store is
`memory://` and any worker can take over any partition.
"""

from __future__ import annotations

from typing import Any

import faust
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from warnengine.clock import Clock
from warnengine.obs import metrics
from warnengine.pipeline.agents import add_agents
from warnengine.pipeline.faust_tuning import set_fetch_max_wait
from warnengine.pipeline.health import READY, ReadyChecks
from warnengine.pipeline.limits import check_kafka_limits
from warnengine.pipeline.live import add_live_services
from warnengine.pipeline.pipeline import Pipeline
from warnengine.pipeline.resources import Resources
from warnengine.settings import Settings

log = structlog.get_logger("warnengine.app")


def build_app(
    settings: Settings, clock: Clock | None = None, resources: Resources | None = None, live: bool = True
) -> faust.App:
    return build_pipeline(settings, clock, resources, live).app


def build_pipeline(
    settings: Settings, clock: Clock | None = None, resources: Resources | None = None, live: bool = True
) -> Pipeline:
    """The worker. `live=False` (a simulation) leaves out what runs on the wall clock or talks to MQTT —
    the ack and device bridges, the reconciler and escalation timers — for the caller to drive."""
    set_fetch_max_wait(settings.fetch_max_wait_ms)
    p = Pipeline(settings, _faust_app(settings), resources or Resources(settings, clock))
    role = settings.worker_role
    add_agents(p, dispatch=role in ("all", "dispatch"), acks=role in ("all", "acks"))
    if live:
        add_live_services(p, bridges=role in ("all", "acks"), timers=role in ("all", "dispatch"))
    _directory_refresher(p)
    _pages(p)
    return p


def _faust_app(settings: Settings) -> faust.App:
    check_kafka_limits(settings)
    return faust.App(
        settings.group_id(),
        broker=settings.kafka_url,
        store="memory://",
        datadir=str(settings.data_dir / f"faust-{settings.web_port}"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=settings.kafka_max_message_bytes,
        consumer_max_fetch_size=settings.kafka_max_message_bytes,
        stream_wait_empty=False,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        key_serializer="raw",
        value_serializer="raw",
    )


def _directory_refresher(p: Pipeline) -> None:
    @p.app.timer(interval=60.0)  # type: ignore[untyped-decorator]
    async def directory_refresher() -> None:
        """Every worker: pick up a directory imported while it runs (no restart needed)."""
        await p.rt.ready()
        try:
            await p.rt.refresh_directory()
        except Exception as e:  # the old directory keeps working; the next tick retries
            log.warning("directory_refresh_failed", error=repr(e))


def _pages(p: Pipeline) -> None:
    app, rt = p.app, p.rt
    metrics.watch_consumer(lambda: app.consumer)  # consumer lag per topic, read at scrape time

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    checks = ReadyChecks(rt, p.settings.kafka_bootstrap() if p.settings.kafka_url else None)

    @app.page("/ready")
    async def ready_page(web: Any, request: Any) -> Any:
        """200 once resources are up, partitions are assigned and every check in health.py passes: for
        demos, tests and k8s probes. `failed` says which check failed."""
        assigned = app.consumer.assignment() if app.consumer else set()
        failed = [] if rt.started else ["starting"]
        if not assigned:
            failed.append("kafka_assignment")
        if rt.started:
            failed += await checks.failed()
        ok = not failed
        READY.set(1 if ok else 0)
        body = {"ready": ok, "partitions": len(assigned), "failed": failed}
        return web.json(body, status=200 if ok else 503)
