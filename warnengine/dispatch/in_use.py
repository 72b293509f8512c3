"""Which people-channel providers are in use: real ones (credentials present), simulated ones (design
decision 22), or none. The console shows it; a worker decides the same way (Resources._start_senders)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel

from channels.config import ConfigError, resolve_env
from channels.simulated import PREFIX
from warnengine.dispatch.people import PEOPLE

Mode = Literal["real", "simulated", "none"]
LABELS: dict[Mode, str] = {
    "real": "真实服务商 / real providers",
    "simulated": "模拟 / simulated providers",
    "none": "未配置服务商 / no provider configured: messages wait, visits reach households",
}


class ProvidersInUse(BaseModel):
    mode: Mode
    label: str
    channels: dict[str, list[str]]  # channel → provider names in use, failover order
    # "channel/provider" → why it is off (credentials not set): the others of its channel still work
    disabled: dict[str, str] = {}


def credentialed(
    path: Path, env: Mapping[str, str] | None = None, *, keyless: bool = False
) -> dict[str, list[str]]:
    """channel → the providers of the channels file whose credentials are all set (no adapter is built).

    A provider that needs no credential of its own (the WeCom group robots: their keys are in the
    directory) is left out unless `keyless`: it alone does not make the providers real, so shipping it
    in config/channels.yaml keeps the embedded default on simulated providers."""
    out: dict[str, list[str]] = {}
    for channel, name, missing, needs in _providers(path, env):
        if not missing and (needs or keyless):
            out.setdefault(channel, []).append(name)
    return out


def disabled(path: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """ "channel/provider" → why it is off (the environment variable it lacks: never a value)."""
    return {
        f"{c}/{n}": f"未配置凭据 / credentials not set: {missing}"
        for c, n, missing, _ in _providers(path, env)
        if missing
    }


def _providers(path: Path, env: Mapping[str, str] | None) -> list[tuple[str, str, str, bool]]:
    """(channel, provider, the missing variables ("" when none), whether it needs any credential)."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    env = os.environ if env is None else env
    out: list[tuple[str, str, str, bool]] = []
    for channel, pool in data.items() if isinstance(data, dict) else ():
        for spec in (pool or {}).get("providers") or () if isinstance(pool, dict) else ():
            params = spec.get("params") or {}
            needs = [str(v) for k, v in params.items() if k.endswith("_env") and not str(v).endswith("?")]
            try:
                resolve_env(params, env)
                missing = ""
            except ConfigError:
                missing = ", ".join(n for n in needs if n not in env)
            out.append((str(channel), str(spec.get("name") or spec.get("adapter")), missing, bool(needs)))
    return out


def providers_in_use(
    channels_file: Path, simulated: bool, env: Mapping[str, str] | None = None
) -> ProvidersInUse:
    """Real credentials always win: a simulated provider is used only when no real one can start."""
    off = disabled(channels_file, env)
    if credentialed(channels_file, env):
        real = credentialed(channels_file, env, keyless=True)
        return ProvidersInUse(mode="real", label=LABELS["real"], channels=real, disabled=off)
    if simulated:
        sims = {c.value: [f"{PREFIX}{c.value}"] for c in PEOPLE}
        return ProvidersInUse(mode="simulated", label=LABELS["simulated"], channels=sims, disabled=off)
    return ProvidersInUse(mode="none", label=LABELS["none"], channels={}, disabled=off)
