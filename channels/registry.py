"""Finds channel adapters through the `warnengine.channels` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "warnengine.channels"


def available() -> dict[str, Any]:
    """name → adapter factory (a class or callable), for every installed adapter."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> Any:
    eps = available()
    if name not in eps:
        raise LookupError(f"no channel adapter {name!r} in entry-point group {GROUP} (have: {sorted(eps)})")
    return eps[name].load()
