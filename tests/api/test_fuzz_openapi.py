"""Schemathesis against the API's own /openapi.json: whatever it generates from the document, with an
admin token (every operation reachable past auth), the server never answers 5xx, every status it answers
is documented, and every JSON body matches the documented schema. Bounded: a few examples per operation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import RecordingPublisher, api_settings, seed
from warnengine.api.app import create_app
from warnengine.api.auth import hash_password
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model.field_report import FieldReport, ReportKind, ReportSource, ReportState

EXAMPLES = 12
STATUSES: dict[tuple[str, int], int] = {}


class Server:
    """The app on a real port, in a thread with its own loop: schemathesis calls it with requests."""

    def __init__(self, tmp: Path, county: County) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp, self.county = tmp, county
        self.ready = threading.Event()
        self.url = ""
        self.tokens: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        engine = connect(f"sqlite+aiosqlite:///{self.tmp / 'fuzz.db'}")
        await migrate(engine)
        self.store = Store(engine, SystemClock())
        self.tokens = await seed(self.store, self.county, await hash_password("fuzz password 1"))
        # Real records for path parameters, so generated bodies meet real state (conflicts, stale revisions)
        # rather than only 404s (which test_auth covers).
        township = next(c.code for c in self.county.cells if c.level == "township")
        self.real = {
            "code": township,
            "device_id": self.county.devices[0].device_id,
            "warning_id": await self._draft(township),
            "task_id": "v-" + "0" * 20,  # no such visit task: its reports are a documented 404
            "household_id": self.county.households[0].household_id,
            "import_id": "0" * 16,  # no such upload: its problem list is a documented 404
            "report_id": await self._field_report(),
            "sha256": "0" * 64,  # no such photo: a documented 404
            "shelter_id": "S-none",  # no such shelter: check-ins are a documented 404
            "org_id": "O-none",  # no such org of the warning: a visitor's word on it is a documented 404
            "username": "grid",  # a real account: which directory person it is
        }
        app = create_app(self.store, api_settings(self.tmp), RecordingPublisher())
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _field_report(self) -> str:
        r = FieldReport("fr-" + "0" * 20, ReportSource.STAFF, ReportKind.DISASTER, ReportState.OPEN, 0, "x")
        await self.store.open_field_reports([r])
        return r.report_id

    async def _draft(self, township: str) -> str:
        from warnengine.api.drafts import Compose

        content = Compose.model_validate(
            {
                "hazard": "flood",
                "severity": "red",
                "event": "山洪",
                "headline": "h",
                "areas": [{"codes": [township]}],
            }
        )
        now = self.store.clock.now()
        await self.store.add_draft(
            {
                "warning_id": "w-00000000000000aa",
                "sender": "s",
                "identifier": "i",
                "state": "submitted",
                "revision": 1,
                "status": "Actual",
                "hazard": "flood",
                "severity": "red",
                "content": content.model_dump_json(),
                "released_refs": "[]",
                "released_version": 0,
                "created_by": "disp",
                "submitted_by": "disp",
                "fast_path": False,
                "created_at": now,
                "updated_at": now,
            }
        )
        return "w-00000000000000aa"

    async def _stop(self) -> None:
        await self.runner.cleanup()
        await self.store.close()

    def __enter__(self) -> Server:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_county: County) -> Iterator[Server]:
    with Server(tmp_path_factory.mktemp("fuzz"), small_county) as s:
        yield s


def test_no_server_errors_and_documented_answers(server: Server) -> None:
    """Every operation, EXAMPLES generated cases each (fixed seed: a failure reproduces)."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.label.endswith("/events"):
            continue  # a Server-Sent Events stream never ends by itself: tests/api/test_status.py reads it
        calls = 0

        label = operation.label

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            for name in case.path_parameters or {}:
                case.path_parameters[name] = server.real[name]
            r = case.call_and_validate(headers=headers, checks=checks, timeout=10)
            STATUSES[(label, r.status_code)] = STATUSES.get((label, r.status_code), 0) + 1  # noqa: B023

        try:
            run()
        except Exception as e:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {e}")
        ran += calls
    assert not failures, "\n\n".join(failures)
    # Deep enough to matter: most operations got past validation to a success at least once.
    succeeded = {label for (label, status) in STATUSES if status < 300}
    assert len(succeeded) >= 15, sorted(STATUSES.items())
    assert ran >= 25 * 3  # every operation was exercised, not skipped


def test_the_document_is_openapi_3_1_with_every_operation(server: Server) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(server.url + "/openapi.json") as r:
        doc = json.load(r)
    assert doc["openapi"].startswith("3.1")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ("POST", "/api/v1/warnings/{warning_id}/approve") in ops and ("POST", "/api/v1/acks") in ops
    approve = doc["paths"]["/api/v1/warnings/{warning_id}/approve"]["post"]
    assert {"401", "403", "409"} <= set(approve["responses"])
