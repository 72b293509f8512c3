"""One declaration per operation drives both the route and its OpenAPI entry, so they cannot drift.

An `Op` names its method, path, roles, and the pydantic models of its body, query and response. The
wrapper authenticates, checks the role, enforces the body size, and validates body and query with those
same models before the handler runs; openapi.py writes the document from the same objects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from aiohttp import web
from pydantic import BaseModel, ValidationError

from warnengine.api.auth import ApiRole, User, require
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError, bad_request, from_validation, password_change_required
from warnengine.obs import metrics
from warnengine.wire.safejson import JsonRefused, loads_bounded

M = TypeVar("M", bound=BaseModel)
OpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EVERYONE = frozenset(ApiRole)
STAFF = frozenset({ApiRole.DISPATCHER, ApiRole.APPROVER, ApiRole.ADMIN, ApiRole.GRID_STAFF})
ISSUERS = frozenset({ApiRole.DISPATCHER, ApiRole.ADMIN})
APPROVERS = frozenset({ApiRole.APPROVER, ApiRole.ADMIN})
# The duty room (值班室): takes and closes field reports, checks people in at any shelter. Not grid staff
# in the field, who report and visit (a shelter keeper's account checks in at their own shelter only).
DUTY = frozenset({ApiRole.DISPATCHER, ApiRole.APPROVER, ApiRole.ADMIN})
# No request body of this API nests deeper than a few levels; deeper is refused (400) before parsing,
# so `[[[[…]]]]` cannot reach Python's recursion limit (RecursionError → 500).
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    handler: OpHandler
    summary: str
    tag: str
    roles: frozenset[ApiRole] | None  # None: public (login, the OpenAPI document)
    body: type[BaseModel] | None = None
    form: dict[str, Any] | None = None  # a multipart/form-data body's schema (uploads; the handler reads it)
    query: type[BaseModel] | None = None
    response: type[BaseModel] | dict[str, Any] | None = None
    status: int = 200
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()  # beyond those every op can return
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    # Allowed to a console session that still has to change its one-time password (who am I, logout, the
    # change itself); every other operation answers 403 password_change_required.
    before_password_change: bool = False

    @property
    def name(self) -> str:
        return self.handler.__name__


USER = web.RequestKey("warnengine_user", User)
BODY = web.RequestKey("warnengine_body", BaseModel)
QUERY = web.RequestKey("warnengine_query", BaseModel)


def user(request: web.Request) -> User:
    return request[USER]


def body(request: web.Request, model: type[M]) -> M:
    return cast(M, request[BODY])


def query(request: web.Request, model: type[M]) -> M:
    return cast(M, request[QUERY])


def json_out(model: BaseModel | dict[str, Any] | list[Any], status: int = 200) -> web.Response:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _read_json(request: web.Request) -> Any:
    limit = ctx(request).settings.api_max_body_bytes
    # Refuse on the declared length before reading a byte; aiohttp's client_max_size backs this up for
    # chunked bodies that declare none.
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    if not raw.strip():
        raise bad_request("invalid_json", "request body must be a JSON object")
    try:
        return loads_bounded(raw, limit, MAX_JSON_DEPTH)
    except JsonRefused as e:
        if e.reason == "too_deep":
            raise bad_request(
                "invalid_json", f"request body nested deeper than {MAX_JSON_DEPTH} levels"
            ) from e
        raise bad_request("invalid_json", f"request body is not JSON: {e}") from e


def wrap(op: Op) -> OpHandler:
    async def handler(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            if op.roles is not None:
                request[USER] = who = await require(request, op.roles)
                if who.must_change_password and not op.before_password_change:
                    raise password_change_required()
            if op.query is not None:
                try:
                    request[QUERY] = op.query.model_validate(dict(request.query))
                except ValidationError as e:
                    raise from_validation(e) from e
            if op.body is not None:
                doc = await _read_json(request)
                if not isinstance(doc, dict):
                    raise bad_request("invalid_json", "request body must be a JSON object")
                try:
                    request[BODY] = op.body.model_validate(doc)
                except ValidationError as e:
                    raise from_validation(e) from e
            response = await op.handler(request)
            status = response.status
            return response
        except ApiError as e:
            status = e.status
            raise
        finally:
            metrics.API_REQUESTS.labels(op.name, str(status)).inc()
            metrics.API_LATENCY.labels(op.name).observe(time.perf_counter() - started)

    handler.__name__ = op.name
    return handler
