"""Demo users for the embedded default: a dispatcher and an approver (two-person approval needs two), with
random passwords printed once and written to a 0600 file in the data directory. Created once: when any user
exists nothing is created or reprinted, and `up` only says where the file is. Not flagged must-change (unlike
init's admin and `user add`): a local demo's passwords, kept in a file, must keep working as written there."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from warnengine.api.accounts import create_user
from warnengine.api.auth import ApiRole
from warnengine.db.store import Store

DEMO_USERS = (
    ("demo-dispatcher", ApiRole.DISPATCHER, "演示值班员 demo dispatcher"),
    ("demo-approver", ApiRole.APPROVER, "演示审核员 demo approver"),
)


@dataclass
class DemoUsers:
    file: Path
    created: dict[str, str] = field(default_factory=dict)  # username -> password, only when just created


def demo_users_file(data_dir: Path) -> Path:
    return data_dir / "demo-users.json"


async def ensure_demo_users(store: Store, data_dir: Path) -> DemoUsers | None:
    """Create the demo users if the database has no user at all. None: users exist and no demo file."""
    path = demo_users_file(data_dir)
    if await store.list_users():
        return DemoUsers(path) if path.exists() else None
    created = {name: secrets.token_urlsafe(12) for name, _, _ in DEMO_USERS}
    record = [{"user": name, "role": role.value, "password": created[name]} for name, role, _ in DEMO_USERS]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(record, out, ensure_ascii=False, indent=1)
    os.chmod(path, 0o600)  # an older file may have had other permissions
    for name, role, display in DEMO_USERS:
        await create_user(store, name, created[name], role, display, must_change=False)
        await store.audit("up", "user.add", name, {"role": role.value, "remote": "local", "demo": True})
    return DemoUsers(path, created)


def describe(demo: DemoUsers) -> str:
    """What `up` prints (stderr): the passwords once, afterwards only where they are."""
    if not demo.created:
        return f"演示用户已存在，密码见 / demo users exist; passwords in: {demo.file}"
    lines = [f"演示用户（随机密码）/ demo users (random passwords), also in {demo.file}:"]
    lines += [f"  {name}: {password}" for name, password in demo.created.items()]
    return "\n".join(lines)
