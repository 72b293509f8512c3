"""Fault injection shared by the provider fakes, and the aiohttp server they run on.

Knobs (change them while the fake runs): `latency_s` added to every request; `error_rate` of requests
answered with a 5xx *before* anything is created (safe to retry); storms during which every request gets
429 with Retry-After (time windows, or runs of consecutive requests for deterministic tests); `hang_rate`
of requests that create the message and then never answer (the ambiguous case: the client's read timeout
fires); `down` stops listening (connection refused).

"Accepted, then failed" (the message is created, visible in the fake's log and its lookup endpoint, and then
the client gets no success): `after_error_rate` answers `error_status` after creating, `drop_rate` resets
the connection after creating, `hang_rate` as above. `lookup_error_rate` makes the provider's message
lookup answer 500, so an ambiguous send cannot be resolved either.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Faults:
    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    storm_every_s: float = 0.0  # 0: no storms; else a storm starts every this many seconds...
    storm_length_s: float = 0.0  # ...and lasts this long
    storm_every_requests: int = 0  # or by request count (deterministic, for tests): every this many...
    storm_requests: int = 0  # ...requests, this many in a row get 429
    retry_after_s: int = 1
    hang_rate: float = 0.0
    hang_s: float = 3600.0
    after_error_rate: float = 0.0
    drop_rate: float = 0.0
    lookup_error_rate: float = 0.0
    seed: int | None = 1
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def in_storm(self, elapsed_s: float, request_no: int = 0) -> bool:
        if self.storm_every_requests > 0 and (request_no % self.storm_every_requests) < self.storm_requests:
            return True
        if self.storm_every_s <= 0 or self.storm_length_s <= 0:
            return False
        return (elapsed_s % self.storm_every_s) < self.storm_length_s

    def error(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def hang(self) -> bool:
        return self.hang_rate > 0 and self.rng.random() < self.hang_rate

    def after_create(self) -> str | None:
        """How a request that has just created its message ends: "error", "drop", "hang" or None (201)."""
        for kind, rate in (("error", self.after_error_rate), ("drop", self.drop_rate)):
            if rate > 0 and self.rng.random() < rate:
                return kind
        return "hang" if self.hang() else None

    def lookup_error(self) -> bool:
        return self.lookup_error_rate > 0 and self.rng.random() < self.lookup_error_rate


async def drop(request: web.Request, hang_s: float) -> web.StreamResponse:
    """Reset the client's connection mid-request (after the message was created): it sees a dropped
    connection, never a status. The handler is cancelled with the connection (handler_cancellation)."""
    if request.transport is not None:
        request.transport.abort()
    await asyncio.sleep(hang_s)
    raise ConnectionResetError("dropped by the fake")  # not reached: cancelled above


class FakeServer:
    """An aiohttp app on 127.0.0.1 at a random port that can go down and come back on the same port."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._started = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def elapsed(self) -> float:
        return asyncio.get_running_loop().time() - self._started

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        await self._listen()
        self._started = asyncio.get_running_loop().time()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True, backlog=1024)
        await self._site.start()
        if not self.port:
            server = self._site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def set_down(self, down: bool) -> None:
        """Down: the port refuses connections (a provider outage as a client sees it)."""
        if down and self._site is not None:
            await self._site.stop()
            self._site = None
            # Idle keep-alive connections die with the outage too, or clients would still get through.
            assert self._runner is not None and self._runner.server is not None
            for handler in list(self._runner.server.connections):
                handler.close()
        elif not down and self._site is None:
            await self._listen()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
