"""Server-Sent Events for the console's live pages (a warning's status, the field-report inbox): the
first snapshot, then each snapshot that differs from the last, a keepalive comment when quiet."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from warnengine.api.context import ctx
from warnengine.obs import metrics

POLL_S = 1.0  # how often a stream re-reads the record; a change is pushed at most this late
KEEPALIVE_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream


async def stream(
    request: web.Request, first: BaseModel, again: Callable[[], Awaitable[BaseModel]], event: str
) -> web.StreamResponse:
    """`first` was read before the stream starts (so a 404 is a normal JSON error); `again` re-reads."""
    c = ctx(request)
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        }
    )
    await resp.prepare(request)
    task = asyncio.current_task()
    if task is not None:
        c.streams.add(task)
    metrics.API_SSE_STREAMS.inc()
    last, n, quiet = "", 0, 0.0
    current = first
    try:
        await resp.write(b"retry: 2000\n\n")
        while True:
            data = current.model_dump_json()
            if data != last:
                n += 1
                await resp.write(f"id: {n}\nevent: {event}\ndata: {data}\n\n".encode())
                last, quiet = data, 0.0
            elif quiet >= KEEPALIVE_S:
                await resp.write(b": keepalive\n\n")
                quiet = 0.0
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
            current = await again()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the console closed the page, or the server is stopping
    finally:
        metrics.API_SSE_STREAMS.dec()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp
