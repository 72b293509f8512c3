"""Link tests and canaries (issue 18): every terminal's and provider's last scheduled test, and which are
stale — the last test failed, or no success for `link_stale_after_s`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field

from warnengine.api.context import ctx
from warnengine.api.routing import STAFF, Op, json_out, query


class LinkQuery(BaseModel):
    stale: bool | None = None  # true: only the stale links (the console's list)
    kind: str | None = Field(default=None, pattern="^(terminal|provider)$")


class LinkOut(BaseModel):
    link: str  # terminal:<device id> | provider:<name>
    kind: str
    last_tried: float
    last_success: float | None  # None: never passed
    last_error: str | None  # the reason, or the provider's code; None after a success
    failures: int  # in a row
    stale: bool
    last_success_local: str | None  # YYYY-MM-DD HH:MM in the county's time zone


class LinkList(BaseModel):
    stale_after_s: float
    links: list[LinkOut]


def is_stale(row: dict[str, Any], now: float, after_s: float) -> bool:
    success = row["last_success"]
    return row["last_error"] is not None or success is None or now - float(success) > after_s


async def list_links(request: web.Request) -> web.Response:
    q = query(request, LinkQuery)
    c = ctx(request)
    now, after = c.store.clock.now(), c.settings.link_stale_after_s
    tz = ZoneInfo(c.settings.time_zone)

    def local(at: float | None) -> str | None:
        return None if at is None else datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M")

    links = [
        LinkOut(**r, stale=is_stale(r, now, after), last_success_local=local(r["last_success"]))
        for r in await c.store.link_tests()
    ]
    links = [
        x for x in links if (q.stale is None or x.stale == q.stale) and (q.kind is None or x.kind == q.kind)
    ]
    return json_out(LinkList(stale_after_s=after, links=links))


OPS = [
    Op(
        "GET",
        "/api/v1/links",
        list_links,
        "Link tests and canaries: each terminal's and provider's last test (filter stale, kind)",
        "devices",
        STAFF,
        query=LinkQuery,
        response=LinkList,
    ),
]
