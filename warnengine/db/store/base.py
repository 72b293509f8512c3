"""What every part of the store shares: the engine, the clock, dialect-aware upserts, chunking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from warnengine.clock import Clock
from warnengine.model import DeliveryState

OPEN = (DeliveryState.PENDING.value, DeliveryState.SENT.value)
UNFINISHED = (*OPEN, DeliveryState.RECEIVED.value, DeliveryState.PLAYING.value)
_CHUNK = 500  # bound IN-lists and executemany batches (SQLite's variable limit)


def chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


class StoreBase:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"

    def _insert_ignore(self, table: Table) -> Any:
        ins = postgresql.insert(table) if self._pg else sqlite.insert(table)
        return ins.on_conflict_do_nothing()

    def _upsert(self, table: Table, key: list[str], rows: list[dict[str, Any]]) -> Any:
        ins = postgresql.insert(table) if self._pg else sqlite.insert(table)
        cols = {c: getattr(ins.excluded, c) for c in rows[0] if c not in key}
        return ins.on_conflict_do_update(index_elements=key, set_=cols)

    async def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """`sql` (with `?` placeholders) for every row, through the driver itself inside `conn`'s open
        transaction: SQLAlchemy's per-row parameter handling costs more than the update on hot paths."""
        if not rows:
            return
        driver = (await conn.get_raw_connection()).driver_connection
        if self._pg:
            n = iter(range(1, 1000))
            sql = "".join(f"${next(n)}" if ch == "?" else ch for ch in sql)
        await driver.executemany(sql, [tuple(r) for r in rows])

    async def close(self) -> None:
        await self.engine.dispose()
