"""What /ready checks besides the consumer's assignment: the database answers, the reconciler is not
failing over and over (real SQLite)."""

from __future__ import annotations

from pathlib import Path

from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.pipeline.resources import RECONCILE_FAILURES_NOT_READY, Resources
from warnengine.settings import Settings


async def test_database_and_reconciler_checks(tmp_path: Path) -> None:
    rt = Resources(Settings(data_dir=tmp_path))
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await migrate(engine)
    rt.store = Store(engine, SystemClock())
    try:
        assert await rt.failed_checks() == []
        rt.reconcile_failures = RECONCILE_FAILURES_NOT_READY
        assert await rt.failed_checks() == ["reconciler"]
        rt.reconcile_failures = 0
    finally:
        await rt.store.close()

    # A database that cannot be queried (the file is not SQLite): 503 with "database".
    (tmp_path / "gone.db").write_bytes(b"not a database " * 100)
    broken = Resources(Settings(data_dir=tmp_path))
    broken.store = Store(connect(f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}"), SystemClock())
    try:
        assert await broken.failed_checks() == ["database"]
        assert await broken.failed_checks() == ["database"]  # cached answer
    finally:
        await broken.store.close()
