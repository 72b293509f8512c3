"""Reach preview before submit: how many villages, households, people, terminals an area would reach.

The counting is the planner's (warnengine/plan/preview.py), so the preview and the real fan-out follow one
policy; this module only validates the request and shapes the answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.compose import Areas, Compose
from warnengine.api.context import ApiContext, ctx
from warnengine.api.errors import ApiError
from warnengine.api.routing import STAFF, Op, body, json_out
from warnengine.api.warnings import WARNING_ID, _draft
from warnengine.model import Hazard, Severity, Status


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    areas: Areas
    hazard: Hazard | None = None
    severity: Severity | None = None
    drill: bool = False


class Preview(BaseModel):
    model_config = ConfigDict(extra="allow")  # the planner may count more than these

    townships: int
    villages: int
    groups: int
    households: int
    people: int
    vulnerable: int
    devices: int
    by_channel: dict[str, int] = Field(default_factory=dict)  # deliveries per channel
    rule: str | None = None  # the planner's policy rule that applied
    problems: list[str] = Field(default_factory=list)  # what was wrong with the area
    flagged: bool = False  # reaches nobody: never released silently


async def _preview(
    c: ApiContext, areas: Any, hazard: Hazard | None, severity: Severity | None, drill: bool
) -> Preview:
    try:
        from warnengine.plan.preview import preview
    except ImportError as e:  # the planner's preview is not installed in this build
        raise ApiError(503, "preview_unavailable", "reach preview is not available in this build") from e
    counts = await preview(
        c.store,
        [a.model_area() for a in areas],
        hazard=hazard,
        severity=severity,
        status=Status.EXERCISE if drill else Status.ACTUAL,
    )
    return Preview.model_validate(counts)


async def preview_area(request: web.Request) -> web.Response:
    b = body(request, PreviewIn)
    return json_out(await _preview(ctx(request), b.areas, b.hazard, b.severity, b.drill))


async def preview_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    row = await _draft(c, request.match_info["warning_id"])
    w = Compose.model_validate_json(row["content"])
    return json_out(await _preview(c, w.areas, w.hazard, w.severity, w.drill))


OPS = [
    Op(
        "POST",
        "/api/v1/preview",
        preview_area,
        "Reach of an area before a draft exists",
        "warnings",
        STAFF,
        body=PreviewIn,
        response=Preview,
        errors=(503,),
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/preview",
        preview_warning,
        "Reach of a warning's area",
        "warnings",
        STAFF,
        response=Preview,
        errors=(404, 503),
        path_params={"warning_id": WARNING_ID},
    ),
]
