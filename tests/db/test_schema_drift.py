"""The tables the code uses (warnengine/db/tables.py) are exactly what the migrations build."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from warnengine.db import tables
from warnengine.db.store import Store


async def test_migrations_build_the_declared_schema(store: Store) -> None:
    def diff(conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "compare_server_default": False})
        return [d for d in compare_metadata(ctx, tables.metadata) if not _alembic_own(d)]

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def _alembic_own(d: Any) -> bool:
    return isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version"
