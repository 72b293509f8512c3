"""The API application: routes from every concern's `OPS`, the OpenAPI document, the console's files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from warnengine.api import (
    account_person,
    accounts,
    acks,
    audit,
    devices,
    directory,
    directory_import,
    duty,
    duty_room,
    evacuation,
    field_reports,
    links,
    openapi,
    org_visits,
    preview,
    providers,
    report,
    status,
    visits,
    warnings,
)
from warnengine.api.auth import trusted_networks
from warnengine.api.context import CTX, ApiContext, Publisher
from warnengine.api.drafts import load_templates
from warnengine.api.errors import Handler, error_middleware
from warnengine.api.limiter import LoginLimiter
from warnengine.api.policy import ApprovalPolicy
from warnengine.api.routing import Op, wrap
from warnengine.api.webhooks import eb_routes, webhook_routes
from warnengine.db.store import Store
from warnengine.obs import log as obslog
from warnengine.settings import Settings

log = obslog.get("warnengine.api")
STATIC = Path(__file__).parent / "static"
# Nothing but this origin: the console works with no internet, and injected markup could load nothing.
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


def all_ops() -> list[Op]:
    return [
        *accounts.OPS,
        *warnings.OPS,
        *preview.OPS,
        *status.OPS,
        *report.OPS,
        *providers.OPS,
        *visits.OPS,
        *org_visits.OPS,
        *directory.OPS,
        *directory_import.OPS,
        *duty.OPS,
        *duty_room.OPS,
        *devices.OPS,
        *links.OPS,
        *acks.OPS,
        *audit.OPS,
        *field_reports.OPS,
        *evacuation.OPS,
        *account_person.OPS,
    ]


def _route_path(op: Op) -> str:
    """`{name}` → `{name:regex}` from the parameter's declared pattern: bad ids are a 404 at the router."""
    path = op.path
    for name, schema in op.path_params.items():
        pattern = schema.get("pattern", "^[^/]+$").removeprefix("^").removesuffix("$")
        path = path.replace("{" + name + "}", "{" + name + ":" + pattern + "}")
    return path


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Content-Security-Policy", CSP)
    if request.path.startswith("/api/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


async def _console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _metrics(request: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


def create_app(
    store: Store,
    settings: Settings,
    publisher: Publisher,
    *,
    policy: ApprovalPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> web.Application:
    """The API app. Provider webhooks are mounted when their secrets are in `env` (default: os.environ)."""
    trusted_networks(tuple(settings.api_trusted_proxies))  # a mistyped proxy address fails here, at start
    app = web.Application(
        client_max_size=settings.api_max_body_bytes, middlewares=[error_middleware, security_headers]
    )
    app[CTX] = ApiContext(
        store=store,
        settings=settings,
        publisher=publisher,
        policy=policy if policy is not None else ApprovalPolicy.load(settings.api_policy_file),
        limiter=LoginLimiter(
            settings.api_login_max_failures,
            settings.api_login_window_s,
            settings.api_login_max_failures_per_address,
        ),
        templates=load_templates(settings.api_templates_file),
    )
    ops = all_ops()
    for op in ops:
        app.router.add_route(op.method, _route_path(op), wrap(op), name=op.name)
    app.router.add_get("/openapi.json", openapi.handler(openapi.document(ops)))
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/", _redirect)
    app.router.add_get("/console/", _console)
    app.router.add_static("/console/", STATIC, show_index=False)
    app.router.add_routes(list(webhook_routes(publisher, env)))
    app.router.add_routes(list(eb_routes(store, settings, publisher)))
    app.on_shutdown.append(_end_streams)
    return app


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def _end_streams(app: web.Application) -> None:
    for task in list(app[CTX].streams):
        task.cancel()


@dataclass
class ApiServer:
    runner: web.AppRunner
    store: Store
    publisher: Publisher
    url: str

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.publisher.close()
        await self.store.close()


async def start_api(settings: Settings, *, port: int | None = None) -> ApiServer:
    """Serve the API on settings.api_host:api_port (port 0: any free one; the URL says which)."""
    from warnengine.api.publisher import KafkaPublisher
    from warnengine.clock import clock_for
    from warnengine.db import connect, migrate

    engine = connect(settings.db_url())
    await migrate(engine)
    store = Store(engine, clock_for(settings.clock_speed, settings.clock_epoch))
    publisher = KafkaPublisher(settings)
    app = create_app(store, settings, publisher)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_host, settings.api_port if port is None else port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else settings.api_port
    url = f"http://{settings.api_host}:{bound}"
    log.info("api_listening", url=url, console=url + "/console/")
    return ApiServer(runner, store, publisher, url)


async def serve(settings: Settings) -> None:
    """`warnengine api`: serve until SIGINT/SIGTERM."""
    import signal

    server = await start_api(settings)
    print(f"warnengine API on {server.url}  (console: {server.url}/console/)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
