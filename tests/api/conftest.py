"""API fixtures: the real app on a real database (SQLite, and PostgreSQL where a test takes `store`), the
county directory loaded, one user per role with a bearer token, and a publisher that records what a
release would put on Kafka (the end-to-end tests use the real broker instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from warnengine.api.app import create_app
from warnengine.api.auth import digest, hash_password
from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.settings import Settings

PASSWORD = "correct horse battery"
ROLES = {
    "admin": "admin",
    "disp": "dispatcher",
    "disp2": "dispatcher",
    "appr": "approver",
    "appr2": "approver",
    "grid": "grid_staff",
    "app": "app",
}
MAX_BODY = 64 * 1024


@dataclass
class RecordingPublisher:
    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    fail: bool = False

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker down (test)")
        self.sent.append((topic, key, value))

    async def close(self) -> None:
        pass


@dataclass
class Api:
    client: TestClient[Any, Any]
    store: Store
    publisher: RecordingPublisher
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {**(self.auth(who) if who else {}), **kw.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kw) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body


@pytest.fixture(scope="session")
def password_hash() -> str:
    import asyncio

    return asyncio.run(hash_password(PASSWORD))  # argon2 is slow on purpose: hash once per session


def api_settings(tmp_path: Path, **over: Any) -> Settings:
    root = Path(__file__).resolve().parents[2]
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "api_max_body_bytes": MAX_BODY,
        "api_policy_file": root / "config" / "approval.yaml",
        "api_templates_file": root / "config" / "warning_templates.yaml",
    }
    base.update(over)
    return Settings(**base)


async def seed(store: Store, county: County, password_hash: str) -> dict[str, str]:
    """The directory and one user (with a token) per role; returns user → token."""
    await store.import_directory(county.cells, county.households, county.people, county.devices)
    tokens = {}
    for name, role in ROLES.items():
        assert await store.add_user(name, password_hash, role, name.upper())
        tokens[name] = f"we_test_{name}"
        await store.add_token(digest(tokens[name]), name, "test", None)
    return tokens


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    await migrate(engine)
    s = Store(engine, ManualClock())
    yield s
    await s.close()


async def _api(store: Store, county: County, password_hash: str, tmp_path: Path) -> AsyncIterator[Api]:
    tokens = await seed(store, county, password_hash)
    publisher = RecordingPublisher()
    app = create_app(store, api_settings(tmp_path), publisher)
    async with TestClient(TestServer(app)) as client:
        yield Api(client, store, publisher, tokens)


@pytest.fixture
async def api(
    sqlite_store: Store, small_county: County, password_hash: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """SQLite only: for the many request-level checks."""
    async for a in _api(sqlite_store, small_county, password_hash, tmp_path):
        yield a


@pytest.fixture
async def api_both(
    store: Store, small_county: County, password_hash: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """SQLite and PostgreSQL (the `store` fixture's parameters): for what touches many queries."""
    async for a in _api(store, small_county, password_hash, tmp_path):
        yield a
