"""Directory look-ups: the grid's cells (with geometry for the console's map) and what lives under them."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from warnengine.api.context import ctx
from warnengine.api.errors import not_found
from warnengine.api.routing import STAFF, Op, json_out, query
from warnengine.model import Level

CODE = {"type": "string", "pattern": "^[0-9]{6,15}$"}


class CellQuery(BaseModel):
    level: Level | None = None
    parent: str | None = Field(default=None, pattern="^[0-9]{6,15}$")


class CellOut(BaseModel):
    code: str
    level: Level
    parent: str | None
    name: str


class CellList(BaseModel):
    cells: list[CellOut]


class CellDetail(CellOut):
    geometry: dict[str, Any]
    households: int
    people: int
    devices: int
    children: list[CellOut]


class GridQuery(BaseModel):
    levels: str = Field(
        default="township,village",
        pattern="^(county|township|village|group)(,(county|township|village|group))*$",
    )


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    properties: CellOut
    geometry: dict[str, Any]


class Grid(BaseModel):
    """GeoJSON: the console draws it as SVG (no map tiles, no internet)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]


async def list_cells(request: web.Request) -> web.Response:
    q = query(request, CellQuery)
    rows = await ctx(request).store.cells(q.level.value if q.level else None, q.parent)
    return json_out(CellList(cells=[CellOut(**r) for r in rows]))


async def get_cell(request: web.Request) -> web.Response:
    store = ctx(request).store
    code = request.match_info["code"]
    row = await store.cell(code)
    if row is None:
        raise not_found(f"cell {code}")
    children = await store.cells(parent=code)
    counts = await store.cell_counts(code)
    detail = {**row, **counts, "children": [CellOut(**r) for r in children]}
    return json_out(CellDetail.model_validate(detail))


async def grid(request: web.Request) -> web.Response:
    q = query(request, GridQuery)
    store = ctx(request).store
    features = []
    for level in dict.fromkeys(q.levels.split(",")):
        for r in await store.cells(level, geometry=True):
            geometry = r.pop("geometry")
            features.append(Feature(properties=CellOut(**r), geometry=geometry))
    return json_out(Grid(features=features))


OPS = [
    Op(
        "GET",
        "/api/v1/directory/cells",
        list_cells,
        "Grid cells (filter by level, parent)",
        "directory",
        STAFF,
        query=CellQuery,
        response=CellList,
    ),
    Op(
        "GET",
        "/api/v1/directory/cells/{code}",
        get_cell,
        "One cell: geometry, counts, children",
        "directory",
        STAFF,
        response=CellDetail,
        errors=(404,),
        path_params={"code": CODE},
    ),
    Op(
        "GET",
        "/api/v1/directory/grid",
        grid,
        "The grid as GeoJSON, for the console's map",
        "directory",
        STAFF,
        query=GridQuery,
        response=Grid,
    ),
]
