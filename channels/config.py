"""config/channels.yaml: which providers serve each people channel, in failover order, and how hard to push.

Secrets never sit in the file: a parameter `foo_env: NAME` becomes `foo=os.environ["NAME"]` (a trailing `?`,
`NAME?`, makes it optional: left out when the variable is unset). See docs/channels.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warnengine.model import Channel


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RetryConfig:
    attempts: int = 4  # calls to one provider per delivery, the first included
    initial_s: float = 0.5
    max_s: float = 8.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 30.0  # a provider asking for longer is failed over instead of waited for


@dataclass(frozen=True)
class BreakerConfig:
    failures: int = 5
    reset_after_s: float = 30.0


@dataclass(frozen=True)
class ProviderConfig:
    adapter: str  # entry-point name in the warnengine.channels group
    name: str  # metric label, log name
    params: dict[str, Any]
    rate_per_s: float | None = None  # None: the adapter's declared rate_per_s, if any
    burst: float = 1.0
    account: str | None = None  # providers naming the same account share one token bucket


@dataclass(frozen=True)
class PoolConfig:
    channel: Channel
    providers: list[ProviderConfig]
    retry: RetryConfig = field(default_factory=RetryConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    max_inflight_batches: int = 64  # send_batch calls in flight per pool (paced ones carry few messages)


def load_channels(path: str | Path, env: Mapping[str, str] | None = None) -> dict[Channel, PoolConfig]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of channel → pool")
    return parse_channels(data, os.environ if env is None else env)


def parse_channels(data: dict[str, Any], env: Mapping[str, str]) -> dict[Channel, PoolConfig]:
    pools: dict[Channel, PoolConfig] = {}
    for key, pool in data.items():
        try:
            channel = Channel(key)
        except ValueError as e:
            raise ConfigError(f"unknown channel {key!r} (have {[c.value for c in Channel]})") from e
        if not isinstance(pool, dict) or not pool.get("providers"):
            raise ConfigError(f"{key}: needs a providers list")
        providers = [_provider(key, p, env) for p in pool["providers"]]
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            raise ConfigError(f"{key}: provider names must be unique: {names}")
        pools[channel] = PoolConfig(
            channel,
            providers,
            RetryConfig(**pool.get("retry", {})),
            BreakerConfig(**pool.get("breaker", {})),
            int(pool.get("max_inflight_batches", 64)),
        )
    return pools


def _provider(channel: str, p: Any, env: Mapping[str, str]) -> ProviderConfig:
    if not isinstance(p, dict) or "adapter" not in p:
        raise ConfigError(f"{channel}: every provider needs an adapter (entry-point name)")
    rate = p.get("rate_per_s")
    return ProviderConfig(
        adapter=str(p["adapter"]),
        name=str(p.get("name", p["adapter"])),
        params=resolve_env(p.get("params") or {}, env, where=f"{channel}.{p.get('name', p['adapter'])}"),
        rate_per_s=float(rate) if rate is not None else None,
        burst=float(p.get("burst", 1.0)),
        account=p.get("account"),
    )


def resolve_env(params: dict[str, Any], env: Mapping[str, str], where: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not key.endswith("_env"):
            out[key] = value
            continue
        name, optional = str(value).rstrip("?"), str(value).endswith("?")
        if name in env:
            out[key.removesuffix("_env")] = env[name]
        elif not optional:
            raise ConfigError(f"{where}: environment variable {name} (for {key}) is not set")
    return out
