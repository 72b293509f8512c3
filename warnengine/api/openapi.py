"""`/openapi.json`, written from the same `Op` declarations and pydantic models that route and validate
requests (routing.py). A hand-kept document drifts from the code; a decorator library for aiohttp
(aiohttp-apispec and kin) is unmaintained. Pydantic's JSON Schema is the 2020-12 dialect OpenAPI 3.1
uses, so the document is OpenAPI 3.1.0 and the schemas in it are exactly what the server enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from warnengine.api.auth import CSRF_HEADER, SESSION_COOKIE
from warnengine.api.errors import ErrorResponse
from warnengine.api.routing import Op

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Invalid request: `error.field` names the field",
    401: "Not authenticated",
    403: "Authenticated but not allowed (role, CSRF, self-approval, one-time password not yet changed)",
    404: "Not found",
    409: "Conflict: wrong state or stale revision",
    413: "Request body too large",
    429: "Too many failed logins",
    503: "A dependency (message bus, planner) is unavailable",
}


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the `null` branch of an optional field: absent means None."""
    any_of = schema.get("anyOf")
    if any_of:
        rest = [s for s in any_of if s.get("type") != "null"]
        if len(rest) == 1:
            out = {k: v for k, v in schema.items() if k != "anyOf"}
            out.update(rest[0])
            out.pop("default", None) if schema.get("default") is None else None
            return out
    return schema


_Ref = Callable[[type[BaseModel], str], dict[str, Any]]


def _models(ops: list[Op]) -> list[tuple[type[BaseModel], Any]]:
    """Every model an operation reads or writes, once per mode, the error body first."""
    models: list[tuple[type[BaseModel], Any]] = [(ErrorResponse, "serialization")]
    for op in ops:
        for m, mode in ((op.body, "validation"), (op.query, "validation"), (op.response, "serialization")):
            if isinstance(m, type) and issubclass(m, BaseModel) and (m, mode) not in models:
                models.append((m, mode))
    return models


def _parameters(op: Op, schemas: dict[str, Any], ref: _Ref) -> list[dict[str, Any]]:
    """The path parameters, then one query parameter per field of the query model."""
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": s} for n, s in op.path_params.items()
    ]
    if op.query is not None:
        q = schemas[ref(op.query, "validation")["$ref"].rsplit("/", 1)[-1]]
        required = set(q.get("required", []))
        for name, prop in q.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": _plain(prop)})
    return params


def _success(op: Op, ref: _Ref) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(op.status, "OK")}
    if isinstance(op.response, type):
        ok["content"] = {op.content_type: {"schema": ref(op.response, "serialization")}}
    elif isinstance(op.response, dict):
        ok["content"] = {op.content_type: {"schema": op.response}}
    return ok


def _error_codes(op: Op) -> set[int]:
    """The operation's own errors, plus those its inputs and its authentication can cause."""
    errors = set(op.errors)
    if op.body is not None or op.query is not None or op.path_params:
        errors.add(400)
    if op.body is not None or op.form is not None:
        errors |= {400, 413}
    if op.roles is not None:
        errors |= {401, 403}
    return errors


def _operation(op: Op, schemas: dict[str, Any], ref: _Ref) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {str(op.status): _success(op, ref)},
    }
    if op.description:
        entry["description"] = op.description
    params = _parameters(op, schemas, ref)
    if params:
        entry["parameters"] = params
    if op.body is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(op.body, "validation")}},
        }
    elif op.form is not None:
        entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.form}}}
    entry["security"] = (
        [{"bearerAuth": []}, {"sessionCookie": [], "csrfHeader": []}] if op.roles is not None else []
    )
    error_body = {"application/json": {"schema": ref(ErrorResponse, "serialization")}}
    for code in sorted(_error_codes(op)):
        entry["responses"][str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": error_body,
        }
    return entry


def document(
    ops: list[Op], *, title: str = "warnengine dispatcher API", version: str = "1"
) -> dict[str, Any]:
    keys, defs = models_json_schema(_models(ops), ref_template=REF)
    schemas: dict[str, Any] = defs.get("$defs", {})

    def ref(m: type[BaseModel], mode: str) -> dict[str, Any]:
        return keys[(m, mode)]  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Compose, preview, approve, release, update and cancel warnings; watch them land. "
                'Errors are `{"error": {"code", "message", "field"}}` with a stable `code`.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API token (POST /api/v1/tokens)",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "csrfHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": CSRF_HEADER,
                    "description": "with the session cookie, on every request that changes something",
                },
            },
        },
    }


def handler(doc: dict[str, Any]) -> Any:
    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(doc)

    return openapi_json
