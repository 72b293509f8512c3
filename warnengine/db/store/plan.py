"""Writing a warning's plan: per-household reach rows and per-person deliveries, in bulk.

The plan of a county-wide warning is hundreds of thousands of rows, so this bypasses SQLAlchemy's
per-row parameter handling: SQLite gets one `executemany` of INSERT OR IGNORE; PostgreSQL a COPY, or,
when some rows exist already (a redelivered warning), a COPY into a temporary table and one
INSERT … ON CONFLICT DO NOTHING. Both are idempotent (stable ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from warnengine.db.store.base import StoreBase

DELIVERY_COLUMNS = (
    "delivery_id",
    "warning_id",
    "version",
    "village_code",
    "channel",
    "recipient",
    "state",
    "attempts",
    "created_at",
    "expires_at",
    "person_id",
    "household_id",
    "step",
    "text",
)
HOUSEHOLD_COLUMNS = (
    "warning_id",
    "household_id",
    "version",
    "village_code",
    "cell_code",
    "vulnerable",
    "state",
    "targeted_at",
    "updated_at",
)
_BATCH = 50_000  # rows per executemany: bounds the driver's memory, not the transaction


class PlanQueries(StoreBase):
    @property
    def plan_slice_rows(self) -> int:
        """Rows per plan write. SQLite has one writer: small slices let the dispatch stage's claims in
        between; PostgreSQL takes big COPYs best and lets other writers run meanwhile."""
        return 100_000 if self._pg else 20_000

    async def save_plan(
        self, deliveries: Sequence[tuple[Any, ...]], households: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert rows shaped as DELIVERY_COLUMNS / HOUSEHOLD_COLUMNS; rows already there are kept."""
        if self._pg:
            # asyncpg directly, in its own transaction: SQLAlchemy would begin one only on its own first
            # statement, leaving the driver in autocommit.
            async with self.engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                try:  # the first time a plan is written, straight COPY: the fastest way in
                    async with driver.transaction():
                        await driver.copy_records_to_table(
                            "deliveries", records=deliveries, columns=DELIVERY_COLUMNS
                        )
                        await driver.copy_records_to_table(
                            "warning_households", records=households, columns=HOUSEHOLD_COLUMNS
                        )
                except UniqueViolationError:  # written before (a redelivered warning): keep what is there
                    async with driver.transaction():
                        await _pg_copy(driver, "deliveries", DELIVERY_COLUMNS, deliveries)
                        await _pg_copy(driver, "warning_households", HOUSEHOLD_COLUMNS, households)
            return
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("SELECT 1")  # begins the transaction the inserts below join
            driver = (await conn.get_raw_connection()).driver_connection
            await _sqlite_insert(driver, "deliveries", DELIVERY_COLUMNS, deliveries)
            await _sqlite_insert(driver, "warning_households", HOUSEHOLD_COLUMNS, households)


async def _sqlite_insert(
    driver: Any, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for i in range(0, len(rows), _BATCH):
        await driver.executemany(sql, rows[i : i + _BATCH])


async def _pg_copy(driver: Any, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    scratch = f"_plan_{table}"
    await driver.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {table} INCLUDING DEFAULTS)")
    await driver.copy_records_to_table(scratch, records=rows, columns=list(columns))
    cols = ", ".join(columns)
    await driver.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {scratch} ON CONFLICT DO NOTHING")
    await driver.execute(f"TRUNCATE {scratch}")
