"""JSON errors with stable codes: `{"error": {"code", "message", "field"}}`.

Clients (the console, the app, integrators' scripts) branch on `code`, never on the message, which is for
people and may change. Every error the API returns goes through here, including aiohttp's own (unknown
route, wrong method, body too large), so no HTML error page ever reaches a client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from warnengine.obs import log as obslog

log = obslog.get("warnengine.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# aiohttp's HTTP errors → our stable codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def bad_request(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(400, code, message, field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def password_change_required() -> ApiError:
    return ApiError(
        403,
        "password_change_required",
        "请先修改一次性密码 / change your one-time password first (POST /api/v1/me/password)",
    )


def from_validation(e: ValidationError, prefix: str = "") -> ApiError:
    """The first problem pydantic found, naming the field as a dotted path (`areas.0.codes.1`)."""
    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    if prefix and field:
        field = f"{prefix}.{field}"
    msg = err["msg"]
    return ApiError(400, "invalid_field", f"{field}: {msg}" if field else msg, field or prefix or None)


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.code, e.message, e.field, e.headers)
    except web.HTTPException as e:
        # Redirects are answers, not errors; provider webhooks answer in the provider's own terms.
        if e.status < 400 or request.path.startswith("/webhooks/"):
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        message = e.reason if e.status != 413 else "request body too large"
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        return error_response(e.status, code, message, None, headers)
    except Exception:
        # The message says nothing about internals; the log has the traceback.
        log.exception("api_internal_error", path=_route_of(request), method=request.method)
        return error_response(500, "internal_error", "internal error; the server log has details")


def _route_of(request: web.Request) -> str:
    """The route's template, not the path: a path may hold a secret (a provider callback's URL token)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"
