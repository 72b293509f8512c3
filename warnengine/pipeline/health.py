"""What the worker's /ready checks besides its partition assignment: that the Kafka broker, the database
and the loudspeakers' MQTT link can be used, and that the reconciler is not failing over and over.
A 503 takes the worker out of a load balancer and fires WarnengineWorkerNotReady; it never restarts it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from channels.base import LinkHealth
from warnengine.obs.metrics import READY
from warnengine.pipeline.resources import Resources

log = structlog.get_logger("warnengine.health")

__all__ = ["READY", "ReadyChecks"]

RECONCILE_FAILURES_NOT_READY = 3  # consecutive failed reconciler sweeps that make /ready 503
CHECK_TIMEOUT_S = 1.5
CHECK_CACHE_S = (
    2.0  # probes and scrapes may come often; the broker and the database are asked at most this often
)
MQTT_DOWN_NOT_READY_S = 10.0  # a broker restart or a network blip reconnects within this


class _Cached:
    """One probe's answer, reused for CHECK_CACHE_S; a probe that raises or hangs is a failure."""

    def __init__(self, name: str, probe: Callable[[], Awaitable[object]]) -> None:
        self._name = name
        self._probe = probe
        self._at, self._ok = -CHECK_CACHE_S, False

    async def ok(self) -> bool:
        now = time.monotonic()
        if now - self._at < CHECK_CACHE_S:
            return self._ok
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self._probe()
            self._ok = True
        except Exception as e:
            log.warning("ready_check_failed", check=self._name, error=repr(e))
            self._ok = False
        self._at = time.monotonic()
        return self._ok


class ReadyChecks:
    def __init__(self, rt: Resources, kafka_bootstrap: str | None) -> None:
        self._rt = rt
        self._db = _Cached("database", self._select_1)
        self._bootstrap = kafka_bootstrap
        self._admin: AIOKafkaAdminClient | None = None  # made at the first probe: no connection until asked
        self._kafka = _Cached("kafka", self._metadata)
        self._mqtt_down_since: float | None = None

    async def failed(self) -> list[str]:
        """The names of the checks that fail now, in a fixed order."""
        failed = []
        if self._bootstrap is not None and not await self._kafka.ok():
            failed.append("kafka")
        if not await self._db.ok():
            failed.append("database")
        if not self._mqtt_alive():
            failed.append("mqtt")
        if self._rt.reconcile_failures >= RECONCILE_FAILURES_NOT_READY:
            failed.append("reconciler")
        return failed

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def _select_1(self) -> None:
        async with self._rt.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _metadata(self) -> None:
        """A metadata round trip to the broker (the consumer keeps its assignment while the broker is
        gone, so the assignment alone says nothing)."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=1500)
            try:
                await admin.start()
            except Exception:
                await admin.close()
                raise
            self._admin = admin
        await self._admin.list_topics()

    def _mqtt_alive(self) -> bool:
        speaker = getattr(self._rt, "speaker", None)  # set once the worker's resources have started
        if not isinstance(speaker, LinkHealth) or speaker.connected:
            self._mqtt_down_since = None
            return True
        now = time.monotonic()
        if self._mqtt_down_since is None:
            self._mqtt_down_since = now
        return now - self._mqtt_down_since < MQTT_DOWN_NOT_READY_S
