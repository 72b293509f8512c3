"""The people channels' senders: a `ProviderPool` (warnengine/dispatch/pool.py) per channel kind, built
from the channels file (config/channels.yaml) with the adapters found by entry-point name, and `Senders`,
which the dispatch stage calls as `send(channel, batch)`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from channels import registry
from channels.base import ChannelAdapter, Outgoing, SendResult
from channels.config import (
    ConfigError,
    PoolConfig,
    ProviderConfig,
    load_channels,
    parse_channels,
    resolve_env,
)
from warnengine.clock import Clock, SystemClock
from warnengine.dispatch.breaker import CircuitBreaker
from warnengine.dispatch.pool import Provider, ProviderPool
from warnengine.dispatch.ratelimit import Sleep, TokenBucket
from warnengine.model import Channel
from warnengine.obs.metrics_links import CHANNEL_PROVIDER_ENABLED

__all__ = ["AdapterFactory", "Provider", "ProviderPool", "Senders", "build_pool"]

AdapterFactory = Callable[..., ChannelAdapter]


def _accepts(factory: AdapterFactory, param: str) -> bool:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return param in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def build_provider(
    pc: ProviderConfig,
    cfg: PoolConfig,
    *,
    clock: Clock,
    sleep: Sleep | None = None,
    factories: dict[str, AdapterFactory] | None = None,
    buckets: dict[str, TokenBucket],
) -> Provider:
    """One provider of a pool: its adapter (by entry-point name, or from `factories` for tests), its
    account's token bucket (shared through `buckets`) and its breaker."""
    factory = (factories or {}).get(pc.adapter) or registry.load(pc.adapter)
    params: dict[str, Any] = dict(pc.params)
    if _accepts(factory, "name"):  # the config's name is the metric label, when the adapter takes one
        params.setdefault("name", pc.name)
    adapter = factory(**params)
    rate = pc.rate_per_s if pc.rate_per_s is not None else adapter.rate_per_s
    bucket = None
    if rate:
        key = pc.account or pc.name
        bucket = buckets.get(key) or TokenBucket(rate, pc.burst, clock=clock, sleep=sleep)
        buckets[key] = bucket
    return Provider(
        adapter, bucket, CircuitBreaker(cfg.breaker.failures, cfg.breaker.reset_after_s, clock=clock)
    )


def build_pool(
    cfg: PoolConfig,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    factories: dict[str, AdapterFactory] | None = None,
    buckets: dict[str, TokenBucket] | None = None,
    providers: Sequence[Provider] | None = None,  # already built (Senders.available), else from cfg
) -> ProviderPool:
    """A pool from config: adapters found by entry-point name (or in `factories`, for tests)."""
    clock = clock or SystemClock()
    buckets = {} if buckets is None else buckets  # shared across pools: one bucket per provider account
    if providers is None:
        providers = [
            build_provider(pc, cfg, clock=clock, sleep=sleep, factories=factories, buckets=buckets)
            for pc in cfg.providers
        ]
    return ProviderPool(
        cfg.channel,
        providers,
        retry=cfg.retry,
        max_inflight_batches=cfg.max_inflight_batches,
        clock=clock,
        sleep=sleep,
    )


class Senders:
    """Every people channel's pool, callable as `send(channel, batch)` (dispatch_people's `Send`).

    A channel with no pool raises LookupError, which the dispatch stage reports on each delivery.
    """

    def __init__(self, pools: dict[Channel, ProviderPool]) -> None:
        self.pools = pools

    @classmethod
    def from_config(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        env: Mapping[str, str] | None = None,
        factories: dict[str, AdapterFactory] | None = None,
    ) -> Senders:
        buckets: dict[str, TokenBucket] = {}  # one per provider account, across channels
        cfg = load_channels(path, env)
        return cls(
            {ch: build_pool(pc, clock=clock, factories=factories, buckets=buckets) for ch, pc in cfg.items()}
        )

    @classmethod
    def available(
        cls, path: str | Path, *, clock: Clock | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[Senders, dict[str, str]]:
        """The providers of `path` whose credentials are present; the others, with the reason, apart.

        Per provider, not per channel: app push with FCM configured but no JPush credentials still
        pushes through FCM (`skipped["app/jpush"]` says why JPush is off); a channel none of whose
        providers can start is skipped whole (`skipped["app"]`, every provider's reason).
        A worker must start without SMS credentials (the embedded default has none): those deliveries
        then stay pending, visible in the closure report, and the ladder turns to visits.
        """
        import os

        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of channel → pool")
        clk = clock or SystemClock()
        buckets: dict[str, TokenBucket] = {}
        pools: dict[Channel, ProviderPool] = {}
        skipped: dict[str, str] = {}
        for key, pool in data.items():
            try:
                [(ch, cfg)] = parse_channels(
                    {key: pool}, _Lenient(os.environ if env is None else env)
                ).items()
            except (ConfigError, ValueError, TypeError) as e:
                skipped[str(key)] = str(e)
                continue
            built, off = _providers(cfg, pool["providers"], os.environ if env is None else env, clk, buckets)
            for p in built:
                CHANNEL_PROVIDER_ENABLED.labels(ch.value, p.name).set(1)
            for name in off:  # on the console's /metrics too: one provider off, the rest of the channel on
                CHANNEL_PROVIDER_ENABLED.labels(ch.value, name).set(0)
            if built:
                pools[ch] = build_pool(cfg, clock=clk, buckets=buckets, providers=built)
                skipped.update({f"{key}/{name}": why for name, why in off.items()})
            else:
                skipped[str(key)] = "; ".join(off.values())
        return cls(pools), skipped

    async def start(self) -> None:
        for pool in self.pools.values():
            await pool.start()

    async def stop(self) -> None:
        for pool in self.pools.values():
            await pool.stop()

    async def __call__(self, channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:
        pool = self.pools.get(channel)
        if pool is None:
            raise LookupError(f"no provider pool configured for {channel.value}")
        return await pool.send(batch)


class _Lenient(dict[str, str]):
    """An environment in which every variable is set: the pool's shape is checked apart from which
    providers' credentials are present (those are checked per provider)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env)

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def _providers(
    cfg: PoolConfig, raw: list[Any], env: Mapping[str, str], clock: Clock, buckets: dict[str, TokenBucket]
) -> tuple[list[Provider], dict[str, str]]:
    """The pool's providers that can start (credentials present, parameters accepted), in failover
    order, and the others' reasons by provider name."""
    built: list[Provider] = []
    off: dict[str, str] = {}
    for pc, spec in zip(cfg.providers, raw, strict=True):
        try:
            params = resolve_env(spec.get("params") or {}, env, where=f"{cfg.channel.value}.{pc.name}")
            real = ProviderConfig(pc.adapter, pc.name, params, pc.rate_per_s, pc.burst, pc.account)
            built.append(build_provider(real, cfg, clock=clock, buckets=buckets))
        except (ConfigError, LookupError, ValueError, TypeError) as e:  # incl. an adapter refusing params
            off[pc.name] = str(e)
    return built, off
