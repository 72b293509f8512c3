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


def credentialed(path: Path, env: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """channel → the providers of the channels file whose credentials are all set (no adapter is built)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    env = os.environ if env is None else env
    out: dict[str, list[str]] = {}
    for channel, pool in data.items() if isinstance(data, dict) else ():
        for spec in (pool or {}).get("providers") or () if isinstance(pool, dict) else ():
            try:
                resolve_env(spec.get("params") or {}, env)
            except ConfigError:
                continue
            out.setdefault(str(channel), []).append(str(spec.get("name") or spec.get("adapter")))
    return out


def providers_in_use(
    channels_file: Path, simulated: bool, env: Mapping[str, str] | None = None
) -> ProvidersInUse:
    """Real credentials always win: a simulated provider is used only when no real one can start."""
    real = credentialed(channels_file, env)
    if real:
        return ProvidersInUse(mode="real", label=LABELS["real"], channels=real)
    if simulated:
        sims = {c.value: [f"{PREFIX}{c.value}"] for c in PEOPLE}
        return ProvidersInUse(mode="simulated", label=LABELS["simulated"], channels=sims)
    return ProvidersInUse(mode="none", label=LABELS["none"], channels={})
