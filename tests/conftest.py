"""Shared fixtures: real SQLite and PostgreSQL databases, a small generated county."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.servers import postgres_server
from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import County, generate_county, write_county


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """WARNENGINE_TEST_PG_URL if set (CI may point at its own server), else a throwaway local cluster."""
    url = os.environ.get("WARNENGINE_TEST_PG_URL")
    if url:
        yield url
        return
    with postgres_server() as started:
        yield started


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated, empty database of each kind, with a clock the test moves by hand."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = connect(url)
    if request.param == "postgresql":
        async with engine.begin() as conn:  # each test starts from an empty schema
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await migrate(engine)
    s = Store(engine, ManualClock())
    yield s
    await s.close()


@pytest.fixture(scope="session")
def small_county() -> County:
    """No organisations: tests that count messages per person stay exact; org tests add their own
    (tests/plan/org_county.py)."""
    return generate_county(
        seed=7,
        townships=3,
        villages=15,
        groups_per_village=(2, 3),
        households_per_group=(2, 4),
        orgs_per_township=0,
    )


@pytest.fixture(scope="session")
def small_county_dir(small_county: County, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("county")
    write_county(small_county, d)
    return d
