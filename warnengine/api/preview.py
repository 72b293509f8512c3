"""Reach preview before submit: how many villages, households, people, terminals an area would reach.

The counting is the planner's (warnengine/plan/preview.py), so the preview and the real fan-out follow one
policy; this module only validates the request and shapes the answer.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.context import ApiContext, ctx
from warnengine.api.drafts import Areas, Compose
from warnengine.api.routing import STAFF, Op, body, json_out
from warnengine.api.warning_models import WARNING_ID
from warnengine.api.warning_state import load_draft
from warnengine.model import Hazard, Severity, Status


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    areas: Areas
    hazard: Hazard | None = None
    severity: Severity | None = None
    drill: bool = False


class Unreachable(BaseModel):
    person_id: str
    role: str
    cell_code: str
    cell_name: str
    reason: str
    other_channels: list[str] = Field(default_factory=list)  # wechat / app: a message still reaches them


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
    # Pre-flight: responsible persons (grid staff of the reached cells and above) with no phone on record
    # (warnengine/plan/preflight.py), the first 200; `unreachable_count` counts them all.
    unreachable: list[Unreachable] = Field(default_factory=list)
    unreachable_count: int = 0


async def _preview(
    c: ApiContext, areas: Any, hazard: Hazard | None, severity: Severity | None, drill: bool
) -> Preview:
    from warnengine.plan.preview import preview_reach

    directory, policy = await _planner_inputs(c)
    counts = preview_reach(
        directory,
        [a.model_area() for a in areas],
        hazard=hazard,
        severity=severity,
        status=Status.EXERCISE if drill else Status.ACTUAL,
        policy=policy,
    )
    return Preview.model_validate(counts)


DIRECTORY_TTL_S = 60.0  # a re-imported directory shows in previews within a minute


async def _planner_inputs(c: ApiContext) -> tuple[Any, Any]:
    """The workers' own directory and dissemination policy, loaded once a minute, not per request: the
    preview a dispatcher approves is what the pipeline then plans."""
    from warnengine.plan.policy import DEFAULT, load_policy
    from warnengine.resolve.directory import Directory

    now = time.monotonic()
    if c.planner is None or now - c.planner[0] > DIRECTORY_TTL_S:
        f = c.settings.policy_file
        c.planner = (now, await Directory.load(c.store), load_policy(f) if f.exists() else DEFAULT)
    return c.planner[1], c.planner[2]


async def preview_area(request: web.Request) -> web.Response:
    b = body(request, PreviewIn)
    return json_out(await _preview(ctx(request), b.areas, b.hazard, b.severity, b.drill))


async def preview_of(c: ApiContext, w: Compose) -> Preview:
    """The reach of a composed warning (the approver's list shows it beside each row)."""
    return await _preview(c, w.areas, w.hazard, w.severity, w.drill)


async def preview_warning(request: web.Request) -> web.Response:
    c = ctx(request)
    row = await load_draft(c, request.match_info["warning_id"])
    return json_out(await preview_of(c, Compose.model_validate_json(row["content"])))


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
