"""`warnengine api` and `warnengine user …` (added to the main command by warnengine/cli/main.py)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from warnengine.settings import Settings

SettingsOf = Callable[[argparse.Namespace], Settings]
# Without it a password set here is one-time: whoever chose it is not its user, who must change it at the
# first console login. With it the password stays (your own account, a script's user that only uses tokens).
PERMANENT = "the password is not one-time (default: the user must change it at the first console login)"


def add_commands(sub: Any, settings_of: SettingsOf) -> None:
    api = sub.add_parser("api", help="serve the dispatcher API and console (settings: api_host, api_port)")
    api.add_argument("--host", default=None, help="listen address (default: settings.api_host, 127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="listen port (default: settings.api_port, 8080)")
    api.set_defaults(fn=lambda a: cmd_api(a, settings_of(a)))

    user = sub.add_parser("user", help="console and API users")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="add a user (password prompted, or read from stdin)")
    add.add_argument("name")
    add.add_argument(
        "--role", required=True, choices=["dispatcher", "approver", "admin", "grid_staff", "app"]
    )
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--permanent", action="store_true", help=PERMANENT)
    add.set_defaults(fn=lambda a: cmd_user_add(a, settings_of(a)))
    pw = usub.add_parser("passwd", help="set a user's password (prompted, or read from stdin)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.add_argument("--permanent", action="store_true", help=PERMANENT)
    pw.set_defaults(fn=lambda a: cmd_user_passwd(a, settings_of(a)))
    tok = usub.add_parser("token", help="create an API token for a user; prints it once")
    tok.add_argument("name")
    tok.add_argument("--label", default="cli")
    tok.set_defaults(fn=lambda a: cmd_user_token(a, settings_of(a)))
    lst = usub.add_parser("list", help="list users")
    lst.set_defaults(fn=lambda a: cmd_user_list(settings_of(a)))


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from warnengine.api.app import serve
    from warnengine.obs import log as obslog

    obslog.configure("info")
    over = {k: v for k, v in {"api_host": args.host, "api_port": args.port}.items() if v is not None}
    asyncio.run(serve(settings.model_copy(update=over)))
    return 0


async def _with_store(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    from warnengine.clock import SystemClock
    from warnengine.db import connect, migrate
    from warnengine.db.store import Store

    engine = connect(settings.db_url())
    await migrate(engine)
    store = Store(engine, SystemClock())
    try:
        return await fn(store)
    finally:
        await store.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from warnengine.api.accounts import create_user
    from warnengine.api.auth import ApiRole

    try:
        password = _read_password(args.password_stdin)

        async def add(store: Any) -> bool:
            one_time = not args.permanent
            ok = await create_user(
                store, args.name, password, ApiRole(args.role), args.display_name, must_change=one_time
            )
            if ok:
                detail = {"role": args.role, "remote": "local", "one_time": one_time}
                await store.audit("cli", "user.add", args.name, detail)
            return ok

        if not asyncio.run(_with_store(settings, add)):
            print(f"warnengine user add: user {args.name} exists", file=sys.stderr)
            return 1
    except ValueError as e:
        print(f"warnengine user add: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"user": args.name, "role": args.role, "must_change_password": not args.permanent}))
    return 0


def cmd_user_passwd(args: argparse.Namespace, settings: Settings) -> int:
    """An admin's reset: a new one-time password (the user's sessions end), or with --permanent a password
    that stays, e.g. replacing the one-time password `warnengine init` printed without logging in."""
    from warnengine.api.accounts import set_password

    try:
        password = _read_password(args.password_stdin)

        async def change(store: Any) -> bool:
            ended = await set_password(store, args.name, password, must_change=not args.permanent)
            if ended is not None:
                detail = {"remote": "local", "one_time": not args.permanent, "sessions_ended": ended}
                await store.audit("cli", "user.password", args.name, detail)
            return ended is not None

        if not asyncio.run(_with_store(settings, change)):
            print(f"warnengine user passwd: no user {args.name}", file=sys.stderr)
            return 1
    except ValueError as e:
        print(f"warnengine user passwd: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"user": args.name, "password": "changed", "must_change_password": not args.permanent}))
    return 0


def cmd_user_token(args: argparse.Namespace, settings: Settings) -> int:
    from warnengine.api.auth import digest, new_token

    token = new_token()

    async def add(store: Any) -> bool:
        if await store.get_user(args.name) is None:
            return False
        await store.add_token(digest(token), args.name, args.label, None)
        await store.audit("cli", "token.add", args.name, {"label": args.label, "remote": "local"})
        return True

    if not asyncio.run(_with_store(settings, add)):
        print(f"warnengine user token: no user {args.name}", file=sys.stderr)
        return 1
    print(json.dumps({"user": args.name, "token": token}))
    return 0


def cmd_user_list(settings: Settings) -> int:
    async def users(store: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await store.list_users()
        return rows

    for u in asyncio.run(_with_store(settings, users)):
        print(json.dumps(u, ensure_ascii=False))
    return 0
