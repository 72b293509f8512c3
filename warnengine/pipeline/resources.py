"""What one worker process holds: the database store, the village index, the signing keys, the channels."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence

import structlog
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential_jitter

from channels import registry
from channels.base import ChannelAdapter, Outgoing, SendResult
from warnengine.clock import Clock, clock_for
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.dispatch.in_use import credentialed
from warnengine.dispatch.sender import Senders
from warnengine.dispatch.stage import DispatchPolicy
from warnengine.model import Channel, HazardWarning
from warnengine.normalise.feeds.signal_table import SignalTable
from warnengine.normalise.stage import FeedPolicy
from warnengine.normalise.trust import TrustStore
from warnengine.pipeline.simulated import simulated_senders
from warnengine.plan.policy import DEFAULT, DisseminationPolicy, load_policy
from warnengine.resolve.directory import Directory
from warnengine.settings import Settings
from warnengine.signing import SM2_SM3, Signers, SigningUnavailable, load_or_create_signer
from warnengine.signing.sm2 import default_backend
from warnengine.sim.world import World

log = structlog.get_logger("warnengine.runtime")


def make_clock(settings: Settings) -> Clock:
    return clock_for(settings.clock_speed, settings.clock_epoch)


def client_id(role: str, worker_id: str | None = None) -> str:
    return f"warnengine-{role}-{worker_id or f'{socket.gethostname()}-{os.getpid()}'}"


class Resources:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or make_clock(settings)
        self._lock = asyncio.Lock()
        self._ready = False
        self.store: Store
        self.directory: Directory
        self.dissemination: DisseminationPolicy
        self.signers: Signers
        self.speaker: ChannelAdapter
        self.feed_policy: FeedPolicy
        self._warnings: dict[tuple[str, int], HazardWarning] = {}
        # People channels with a provider configured; without one, their deliveries stay pending (visible
        # in the closure report as not sent) and the escalation ladder turns to visits.
        self.people_channels: tuple[Channel, ...] = ()
        self.population: World | None = None  # the simulated population, with simulated providers only
        self._directory_at = 0.0
        self.senders: Senders | None = None
        self.policy = DispatchPolicy(settings.command_ttl_s, settings.resend_after_s, settings.max_attempts)
        self.reconcile_failures = 0  # consecutive; the reconciler timer sets it; /ready reads it

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
        self._directory_at = await self.store.directory_changed_at() or 0.0
        self.directory = await Directory.load(self.store)
        self.dissemination = load_policy(s.policy_file) if s.policy_file.exists() else DEFAULT
        if not s.policy_file.exists():
            log.warning(
                "policy_file_missing", path=str(s.policy_file), effect="loudspeakers and grid heads only"
            )
        self.signers = Signers(load_or_create_signer(s.key_file()), sm2_key_file=s.sm2_key_file())
        await self._check_sm2()
        if s.trust_file and not s.trust_file.exists():
            log.warning("trust_file_missing", path=str(s.trust_file), effect="XML signatures not verified")
        self.feed_policy = FeedPolicy(
            trust=TrustStore.load(s.trust_file) if s.trust_file and s.trust_file.exists() else None,
            signals=SignalTable.load(s.meteo_signals_file) if s.meteo_signals_file.exists() else None,
            max_bytes=s.max_feed_bytes,
        )
        await self._start_channels()
        log.info(
            "worker_ready",
            villages=len(self.directory.villages),
            households=len(self.directory.household_index),
            database=engine.dialect.name,
            mqtt=s.mqtt_url,
        )

    async def _start_channels(self) -> None:
        """The loudspeakers' MQTT link and the people's providers (a simulation puts its world here)."""
        s = self.settings
        host, port = s.mqtt_host_port()
        factory = registry.load("loudspeaker")
        self.speaker = factory(
            host,
            port,
            client_id("dispatch", s.worker_id),
            protocol=s.mqtt_protocol,
            clock=self.clock,
            security=s.mqtt_security(),
        )
        await self.speaker.start()
        if s.eb_platform_url:
            await self._start_eb()
        await self._start_senders()

    async def _start_eb(self) -> None:
        """Terminals registered `provider: eb` go through the county's EB platform (docs/eb-platform.md),
        the rest over MQTT; a ConnectionCheck keeps the platform's link state fresh."""
        from channels.eb_config import eb_channel
        from channels.loudspeaker_router import LoudspeakerRouter

        signer = await asyncio.to_thread(self.signers.sm2)
        eb = eb_channel(self.settings, self.store, signer, self.store.dead_letter)
        ids = [d for ds in (await self.store.eb_devices()).values() for d in ds]
        self.speaker = LoudspeakerRouter(self.speaker, eb, ids)
        await eb.start()
        eb.start_heartbeat(self.settings.eb_heartbeat_s)  # stopped with the router (speaker.stop)
        log.info("eb_platform", url=self.settings.eb_platform_url, terminals=len(ids))

    async def _check_sm2(self) -> None:
        """Say at start-up whether the directory's SM2 terminals can be signed for, and how fast."""
        sm2 = (await self.store.device_sig_algs()).get(SM2_SM3, 0)
        if not sm2:
            return
        impl = default_backend()
        key = self.settings.sm2_key_file()
        if impl is None:
            log.error(
                "sm2_unavailable",
                terminals=sm2,
                effect="their commands are not sent",
                fix="pip install 'warnengine[sm2]'",
            )
            return
        try:
            signer = await asyncio.to_thread(self.signers.sm2)  # loads, or creates on first start
        except SigningUnavailable as e:
            log.error("sm2_key_unavailable", terminals=sm2, key_file=str(key), error=str(e))
            return
        slow = (
            {"note": "pure-Python SM2: ~20 ms a command; pip install 'warnengine[sm2]'"}
            if impl == "gmssl"
            else {}
        )
        log.info("sm2_signing", terminals=sm2, backend=impl, key_file=str(key), key_id=signer.key_id, **slow)

    async def send_people(self, channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:
        if self.senders is None:
            raise LookupError(f"no provider configured for {channel.value}")
        return await self.senders(channel, batch)

    async def _start_senders(self) -> None:
        s = self.settings
        if s.simulated_providers and not credentialed(s.channels_file):  # real credentials always win
            self.senders, self.population = simulated_senders(s, self.directory, self.clock)
            self.people_channels = tuple(self.senders.pools)
            return
        if s.simulated_providers:
            log.info("simulated_providers_off", reason="real provider credentials set / 已配置真实服务商凭据")
        if not s.channels_file.exists():
            log.warning(
                "channels_file_missing", path=str(s.channels_file), effect="no SMS, WeChat or app push"
            )
            return
        senders, skipped = Senders.available(s.channels_file, clock=self.clock)
        for key, reason in skipped.items():  # "sms": the whole channel; "app/jpush": one provider of it
            channel, _, provider = key.partition("/")
            if provider:
                log.warning("channel_provider_disabled", channel=channel, provider=provider, reason=reason)
            else:
                log.warning("channel_disabled", channel=channel, reason=reason)
        await senders.start()
        self.senders = senders
        self.people_channels = tuple(senders.pools)

    async def warning(self, warning_id: str, version: int) -> HazardWarning | None:
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

    async def reload_directory(self) -> None:
        self.directory = await Directory.load(self.store)

    async def refresh_directory(self) -> bool:
        """Reload the directory when one was imported since this worker loaded it (`grid import` while
        the system runs); True when it did."""
        changed = await self.store.directory_changed_at()
        if changed is None or changed <= self._directory_at:
            return False
        self._directory_at = changed
        await self.reload_directory()
        if hasattr(self.speaker, "set_eb_devices"):  # terminals moved to or from the EB platform
            self.speaker.set_eb_devices([d for ds in (await self.store.eb_devices()).values() for d in ds])
        log.info("directory_reloaded", villages=len(self.directory.villages))
        return True

    async def stop(self) -> None:
        if self._ready:
            await self.speaker.stop()
            if self.senders is not None:
                await self.senders.stop()
            await self.store.close()
