"""What every handler shares: the store, settings, the Kafka publisher, the approval policy."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from warnengine.api.limiter import LoginLimiter
from warnengine.api.policy import ApprovalPolicy
from warnengine.db.store import Store
from warnengine.settings import Settings


class Publisher(Protocol):
    """Puts one record on a Kafka topic and returns once the broker has it (acks=all)."""

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass
class ApiContext:
    store: Store
    settings: Settings
    publisher: Publisher
    policy: ApprovalPolicy
    limiter: LoginLimiter
    templates: list[dict[str, Any]] = field(default_factory=list)
    # (loaded at, targeting directory, dissemination policy) for reach previews; see api/preview.py.
    planner: tuple[float, Any, Any] | None = None
    # Open Server-Sent Event streams, ended on shutdown so the server stops promptly.
    streams: weakref.WeakSet[asyncio.Task[Any]] = field(default_factory=weakref.WeakSet)


CTX = web.AppKey("warnengine_api", ApiContext)


def ctx(request: web.Request) -> ApiContext:
    return request.app[CTX]
