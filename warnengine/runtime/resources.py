"""What one worker process holds: the database store, the village index, the signer, the channels."""

from __future__ import annotations

import asyncio
import os
import socket

import structlog
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential_jitter

from channels import registry
from channels.base import ChannelAdapter
from warnengine.clock import Clock, ScaledClock, SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Warning
from warnengine.normalise.feeds.signal_table import SignalTable
from warnengine.normalise.stage import FeedPolicy
from warnengine.normalise.trust import TrustStore
from warnengine.resolve import VillageIndex
from warnengine.settings import Settings
from warnengine.signing import Signer, load_or_create_signer

log = structlog.get_logger("warnengine.runtime")


def make_clock(settings: Settings) -> Clock:
    return SystemClock() if settings.clock_speed == 1.0 else ScaledClock(settings.clock_speed)


def client_id(role: str, worker_id: str | None = None) -> str:
    return f"warnengine-{role}-{worker_id or f'{socket.gethostname()}-{os.getpid()}'}"


class Resources:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or make_clock(settings)
        self._lock = asyncio.Lock()
        self._ready = False
        self.store: Store
        self.index: VillageIndex
        self.signer: Signer
        self.speaker: ChannelAdapter
        self.feed_policy: FeedPolicy
        self._warnings: dict[tuple[str, int], Warning] = {}
        self.policy = DispatchPolicy(settings.command_ttl_s, settings.resend_after_s, settings.max_attempts)

    @property
    def started(self) -> bool:
        return self._ready

    async def ready(self) -> Resources:
        """Start everything once, on first use (agents may run before any startup hook)."""
        if self._ready:
            return self
        async with self._lock:
            if not self._ready:
                await self._start()
                self._ready = True
        return self

    async def _start(self) -> None:
        s = self.settings
        engine = connect(s.db_url())
        # Two workers starting together may race on the first migration; the loser retries.
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(5), wait=wait_exponential_jitter(multiplier=0.2, max=2), reraise=True
        ):
            with attempt:
                await migrate(engine)
        self.store = Store(engine, self.clock)
        self.index = VillageIndex(await self.store.villages())
        self.signer = load_or_create_signer(s.key_file())
        if s.trust_file and not s.trust_file.exists():
            log.warning("trust_file_missing", path=str(s.trust_file), effect="XML signatures not verified")
        self.feed_policy = FeedPolicy(
            trust=TrustStore.load(s.trust_file) if s.trust_file and s.trust_file.exists() else None,
            signals=SignalTable.load(s.meteo_signals_file) if s.meteo_signals_file.exists() else None,
            max_bytes=s.max_feed_bytes,
        )
        host, port = s.mqtt_host_port()
        factory = registry.load("loudspeaker")
        self.speaker = factory(
            host, port, client_id("dispatch", s.worker_id), protocol=s.mqtt_protocol, clock=self.clock
        )
        await self.speaker.start()
        log.info(
            "worker_ready", villages=len(self.index), database=engine.dialect.name, mqtt=f"{host}:{port}"
        )

    async def warning(self, warning_id: str, version: int) -> Warning | None:
        """A recorded warning version; versions never change, so they are cached."""
        key = (warning_id, version)
        w = self._warnings.get(key)
        if w is None:
            w = await self.store.load_warning(warning_id, version)
            if w is not None:
                if len(self._warnings) >= 1024:
                    self._warnings.pop(next(iter(self._warnings)))
                self._warnings[key] = w
        return w

    async def reload_index(self) -> None:
        self.index = VillageIndex(await self.store.villages())

    async def stop(self) -> None:
        if self._ready:
            await self.speaker.stop()
            await self.store.close()
