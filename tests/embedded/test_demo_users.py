"""Demo users on the embedded default: created once with random passwords in a 0600 file, can log in."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from warnengine.api.auth import verify_password
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.embedded.demo_users import describe, ensure_demo_users


async def test_created_once_with_a_private_file(tmp_path: Path) -> None:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await migrate(engine)
    store = Store(engine, SystemClock())
    try:
        first = await ensure_demo_users(store, tmp_path)
        assert first is not None and set(first.created) == {"demo-dispatcher", "demo-approver"}
        assert stat.S_IMODE(first.file.stat().st_mode) == 0o600
        saved = {u["user"]: u for u in json.loads(first.file.read_text())}
        assert saved["demo-approver"]["role"] == "approver"
        for name, password in first.created.items():
            assert saved[name]["password"] == password
            user = await store.get_user(name)
            assert user is not None
            assert await verify_password(user["password_hash"], password)
            assert user["must_change_password"] is False  # a demo: the passwords in the file keep working
        assert "demo-approver" in describe(first)

        again = await ensure_demo_users(store, tmp_path)  # a restart: nothing new, nothing reprinted
        assert again is not None and again.created == {} and again.file == first.file
        assert json.loads(first.file.read_text()) == list(saved.values())
        assert str(first.file) in describe(again)
        assert len(await store.list_users()) == 2
    finally:
        await store.close()
