"""Which people-channel providers the system uses — real, simulated (the embedded default's simulated
population, design decision 22) or none — so the console can say so on every page."""

from __future__ import annotations

from aiohttp import web

from warnengine.api.context import ctx
from warnengine.api.routing import STAFF, Op, json_out
from warnengine.dispatch.in_use import ProvidersInUse, providers_in_use


async def get_providers(request: web.Request) -> web.Response:
    s = ctx(request).settings
    return json_out(providers_in_use(s.channels_file, s.simulated_providers))


OPS = [
    Op(
        "GET",
        "/api/v1/providers",
        get_providers,
        "People-channel providers in use: real, simulated (模拟) or none",
        "status",
        STAFF,
        response=ProvidersInUse,
    ),
]
