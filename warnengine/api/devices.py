"""Loudspeaker terminals and their health (online, last heard, last result)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from warnengine.api.context import ctx
from warnengine.api.errors import not_found
from warnengine.api.routing import STAFF, Op, json_out, query

DEVICE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}


class DeviceQuery(BaseModel):
    village: str | None = Field(default=None, pattern="^[0-9]{12}$")
    online: bool | None = None
    limit: int = Field(default=500, ge=1, le=5000)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class DeviceOut(BaseModel):
    device_id: str
    cell_code: str
    lon: float
    lat: float
    kind: str
    online: bool | None  # None: never heard from
    last_seen: float | None
    last_result: str | None
    last_reason: str | None
    firmware: str | None
    volume: int | None
    offline_since: float | None
    offline_reason: str | None
    drill_opt_in: bool
    sig_alg: str  # how its commands are signed: ed25519 | sm2-sm3
    responsible_id: str | None = None  # 专人: the person paged when it stays silent (issue 18)


class DeviceList(BaseModel):
    devices: list[DeviceOut]


class Health(BaseModel):
    online: int
    offline: int
    unknown: int


async def list_devices(request: web.Request) -> web.Response:
    q = query(request, DeviceQuery)
    rows = await ctx(request).store.list_devices(q.village, q.online, q.limit, q.offset)
    return json_out(DeviceList(devices=[DeviceOut(**r) for r in rows]))


async def get_device(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    row = await ctx(request).store.get_device(device_id)
    if row is None:
        raise not_found(f"device {device_id}")
    return json_out(DeviceOut(**{k: row[k] for k in DeviceOut.model_fields}))


async def health(request: web.Request) -> web.Response:
    return json_out(Health(**await ctx(request).store.device_health_counts()))


OPS = [
    Op(
        "GET",
        "/api/v1/devices",
        list_devices,
        "Terminals (filter by village, online)",
        "devices",
        STAFF,
        query=DeviceQuery,
        response=DeviceList,
    ),
    Op(
        "GET",
        "/api/v1/devices/health",
        health,
        "Terminals by health: online, offline, never heard",
        "devices",
        STAFF,
        response=Health,
    ),
    Op(
        "GET",
        "/api/v1/devices/{device_id}",
        get_device,
        "One terminal",
        "devices",
        STAFF,
        response=DeviceOut,
        errors=(404,),
        path_params={"device_id": DEVICE_ID},
    ),
]
