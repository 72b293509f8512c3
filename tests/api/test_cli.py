"""`warnengine user add|token|list` as an operator runs them, against the database the API serves."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from warnengine.api.auth import digest, verify_password
from warnengine.cli.main import main
from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db.store import Store

WARNENGINE = Path(sys.executable).parent / "warnengine"


def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """In-process, for speed (the console script itself is run once below)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as e:
        main(["--data-dir", str(data), "user", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_user_add_token_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The installed console script, as an operator types it.
    r = subprocess.run(
        [
            str(WARNENGINE),
            "--data-dir",
            str(tmp_path),
            "user",
            "add",
            "li.na",
            "--role",
            "approver",
            "--display-name",
            "李娜",
            "--password-stdin",
        ],
        input="a long password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"user": "li.na", "role": "approver", "must_change_password": True}

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return cli(capsys, monkeypatch, tmp_path, *args, stdin=stdin)

    assert run("add", "li.na", "--role", "approver", "--password-stdin", stdin="another pw 123\n")[0] == 1
    code, _, err = run("add", "x", "--role", "admin", "--password-stdin", stdin="short\n")
    assert code == 2 and "password" in err
    assert run("add", "y", "--role", "boss", "--password-stdin")[0] == 2  # argparse refuses the role
    code, out, _ = run("add", "bot", "--role", "app", "--permanent", "--password-stdin", stdin="bot's pw 1\n")
    assert code == 0 and json.loads(out)["must_change_password"] is False
    code, _, err = run("add", "zhang.wei.01", "--role", "app", "--password-stdin", stdin="Zhang.Wei.01")
    assert code == 2 and "user name" in err
    code, out, err = run("token", "li.na", "--label", "ops")
    assert code == 0, err
    token = json.loads(out)["token"]
    assert run("token", "nobody")[0] == 1
    bot, listed = [json.loads(line) for line in run("list")[1].splitlines()]
    assert (listed["username"], listed["role"], listed["display_name"]) == ("li.na", "approver", "李娜")
    assert listed["must_change_password"] is True and bot["must_change_password"] is False

    async def check() -> None:
        store = Store(connect(f"sqlite+aiosqlite:///{tmp_path / 'warnengine.db'}"), SystemClock())
        try:
            user = await store.get_user("li.na")
            assert user is not None and user["password_hash"].startswith("$argon2id$")
            assert await verify_password(user["password_hash"], "a long password")
            assert (await store.token_user(digest(token)) or {}).get("username") == "li.na"
            assert [e["action"] for e in await store.audit_entries(actor="cli")] == [
                "token.add",
                "user.add",
                "user.add",
            ]
        finally:
            await store.close()

    asyncio.run(check())


def test_user_passwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return cli(capsys, monkeypatch, tmp_path, *args, stdin=stdin)

    assert run("add", "wang", "--role", "admin", "--password-stdin", stdin="one-time password\n")[0] == 0
    assert run("passwd", "wang", "--password-stdin", stdin="short\n")[0] == 2
    assert run("passwd", "nobody", "--password-stdin", stdin="a long password\n")[0] == 1

    async def store_do(fn: Callable[[Store], Awaitable[Any]]) -> Any:
        store = Store(connect(f"sqlite+aiosqlite:///{tmp_path / 'warnengine.db'}"), SystemClock())
        try:
            return await fn(store)
        finally:
            await store.close()

    # wang logged in (and changed the one-time password) in the console: a session.
    asyncio.run(store_do(lambda s: s.add_session(digest("cookie"), "wang", "csrf", 3600, None)))
    code, out, err = run("passwd", "wang", "--password-stdin", stdin="a new long password\n")
    assert code == 0, err
    assert json.loads(out) == {"user": "wang", "password": "changed", "must_change_password": True}
    assert "a new long password" not in out + err

    async def check(store: Store) -> None:
        user = await store.get_user("wang")
        assert user is not None and user["must_change_password"] is True  # an admin's reset is one-time
        assert not await verify_password(user["password_hash"], "one-time password")
        assert await verify_password(user["password_hash"], "a new long password")
        assert await store.session_user(digest("cookie")) is None  # the reset ended the session
        assert [e["action"] for e in await store.audit_entries(actor="cli")] == ["user.password", "user.add"]
        detail = (await store.audit_entries(actor="cli", limit=1))[0]["detail"]
        assert '"sessions_ended": 1' in detail and "a new long password" not in detail

    asyncio.run(store_do(check))
    code, out, err = run("passwd", "wang", "--permanent", "--password-stdin", stdin="wang's own pw 1\n")
    assert code == 0 and json.loads(out)["must_change_password"] is False
    user = asyncio.run(store_do(lambda s: s.get_user("wang")))
    assert user["must_change_password"] is False
