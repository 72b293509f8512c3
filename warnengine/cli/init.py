"""`warnengine init`: prepare a production installation, idempotently (docs/operations.md, "First install").

Against the configured WARNENGINE_KAFKA_URL and WARNENGINE_DATABASE_URL, never embedded brokers:
1. Kafka: reachable, how many brokers, the replication factor checked against them;
2. database: migrations to the newest;
3. topics: every pipeline topic with `topic_partitions` partitions; those that exist with fewer partitions
   (or replicas) are reported, never changed;
4. signing keys: Ed25519, and SM2 when configured or an SM2 implementation is installed; created only when
   missing (0600), and published for terminals (warnengine.signing.rotation);
5. the first admin user, with a random one-time password printed once — only when no admin exists; the
   console asks for a new one at the first login (nothing else is allowed until then).

A second run changes nothing and says so. Exit codes: 0 done, 1 done but something needs attention (a
topic with fewer partitions than configured), 2 bad input (Kafka unreachable, database URL wrong...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warnengine.settings import Settings

EXIT_OK, EXIT_ATTENTION, EXIT_BAD_INPUT = 0, 1, 2
STEPS = 5


class InitError(Exception):
    """Bad input: said in one line, exit code 2."""


def add_command(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    p = sub.add_parser(
        "init", help="prepare production: migrations, topics, signing keys, first admin (idempotent)"
    )
    p.set_defaults(fn=lambda a: run(a, settings_of(a)))
    p.add_argument("--admin", default="admin", help="name of the first admin user (default: admin)")
    p.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="replicas of each new topic (default: min(3, number of brokers))",
    )
    p.add_argument("--kafka-timeout", type=float, default=15.0, help="seconds to wait for Kafka (default 15)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout; progress on stderr")


@dataclass
class Run:
    as_json: bool
    secrets: list[str] = field(default_factory=list)  # never in an error line
    result: dict[str, Any] = field(default_factory=lambda: {"changed": False, "attention": []})

    def say(self, line: str) -> None:
        print(line, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def step(self, n: int, what: str, outcome: str, changed: bool) -> None:
        self.say(f"[{n}/{STEPS}] {what}: {outcome}")
        self.result["changed"] = self.result["changed"] or changed

    def attention(self, line: str) -> None:
        self.result["attention"].append(line)
        self.say(f"      ! {line}")

    def clean(self, message: str) -> str:
        for s in self.secrets:
            if s:
                message = message.replace(s, "***")
        return message.splitlines()[0] if message.strip() else message


def run(args: argparse.Namespace, settings: Settings) -> int:
    out = Run(args.json)
    try:
        from sqlalchemy import make_url

        out.secrets.append(make_url(settings.db_url()).password or "")
    except Exception:  # the URL's own problem is reported by the database step
        pass
    try:
        asyncio.run(_init(args, settings, out))
    except InitError as e:
        print(f"warnengine init: {out.clean(str(e))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if out.as_json:
        print(json.dumps(out.result, ensure_ascii=False))
    else:
        print("已完成 / done" if out.result["changed"] else "无需更改 / nothing to do, nothing changed")
    return EXIT_ATTENTION if out.result["attention"] else EXIT_OK


async def _init(args: argparse.Namespace, settings: Settings, out: Run) -> None:
    from warnengine.pipeline.kafka_admin import broker_count, connect_admin, replication_for

    try:
        bootstrap = settings.kafka_bootstrap()
    except RuntimeError:
        raise InitError(
            "WARNENGINE_KAFKA_URL 未设置 / is not set: init prepares a real Kafka "
            "(for one laptop, `warnengine up` starts embedded brokers)"
        ) from None
    kafka_log = logging.getLogger("aiokafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # its retries; the outcome is said below
    try:
        admin = await connect_admin(bootstrap, args.kafka_timeout)
    except Exception as e:
        raise InitError(f"Kafka 无法连接 / unreachable at {bootstrap}: {e}") from None
    finally:
        kafka_log.setLevel(level)
    try:
        brokers = await broker_count(admin)
        try:
            rf = replication_for(brokers, args.replication_factor)
        except ValueError as e:
            raise InitError(str(e)) from None
        note = "" if rf >= 3 else "；生产环境建议 3 / production wants 3"
        cluster = f"{brokers} 个 broker / brokers, 复制因子 / replication {rf}{note}"
        out.step(1, f"Kafka {bootstrap}", cluster, False)
        out.result["kafka"] = {"bootstrap": bootstrap, "brokers": brokers, "replication": rf}
        await _database(settings, out)
        await _topics(admin, settings, rf, brokers, out)
    finally:
        await admin.close()
    _keys(settings, out)
    await _admin(settings, args.admin, out)


async def _database(settings: Settings, out: Run) -> None:
    from sqlalchemy import make_url

    from warnengine.db import connect, migrate
    from warnengine.db.engine import revision

    try:
        shown = make_url(settings.db_url()).render_as_string(hide_password=True)
    except Exception:
        raise InitError("数据库 URL 无法解析 / WARNENGINE_DATABASE_URL cannot be parsed") from None
    try:
        engine = connect(settings.db_url())
        try:
            before = await revision(engine)
            await migrate(engine)
            after = await revision(engine)
        finally:
            await engine.dispose()
    except Exception as e:
        raise InitError(f"数据库 / database {shown}: {type(e).__name__}: {e}") from None
    changed = before != after
    outcome = f"已迁移 / migrated {before or '-'} → {after}" if changed else f"已是最新 / up to date {after}"
    out.step(2, f"数据库 / database {shown}", outcome, changed)
    out.result["database"] = {"url": shown, "before": before, "revision": after, "changed": changed}


async def _topics(admin: Any, settings: Settings, rf: int, brokers: int, out: Run) -> None:
    from warnengine.pipeline.kafka_admin import provision_topics

    try:
        report = await provision_topics(admin, settings.topic_partitions, rf, brokers)
    except Exception as e:
        raise InitError(f"Kafka 主题 / topics: {type(e).__name__}: {e}") from None
    n = len(report.created)
    outcome = (
        f"已创建 {n} 个，{settings.topic_partitions} 个分区 / created {n} with {settings.topic_partitions} "
        f"partitions; 已存在 / existing {len(report.present)}"
    )
    out.step(3, "Kafka 主题 / topics", outcome, n > 0)
    for topic, have in report.short.items():
        out.attention(
            f"主题 {topic} 只有 {have} 个分区，配置为 {settings.topic_partitions} / topic {topic} has {have} "
            f"partitions, configured {settings.topic_partitions}: workers beyond {have} stay idle; add "
            "partitions with kafka-topics --alter (villages move between partitions) or lower "
            "WARNENGINE_TOPIC_PARTITIONS"
        )
    for topic, have in report.under_replicated.items():
        out.attention(f"主题 {topic} 只有 {have} 个副本 / topic {topic} has {have} replicas, wanted {rf}")
    out.result["topics"] = {
        "partitions": settings.topic_partitions,
        "created": report.created,
        "existing": report.present,
        "short": report.short,
        "under_replicated": report.under_replicated,
    }


def _keys(settings: Settings, out: Run) -> None:
    from warnengine.signing import ED25519, SM2_SM3
    from warnengine.signing.rotation import ensure_key, key_set
    from warnengine.signing.sm2 import Sm2Unavailable, default_backend

    algs = [ED25519]
    if settings.sm2_signing_key_file is not None or default_backend() is not None:
        algs.append(SM2_SM3)
    keys: dict[str, Any] = {}
    parts = []
    for alg in algs:
        ks = key_set(settings, alg)
        try:
            kid, created = ensure_key(ks)
        except Sm2Unavailable as e:
            raise InitError(f"SM2 密钥 / key {ks.key_file}: {e} (pip install 'warnengine[sm2]')") from None
        except (OSError, ValueError) as e:
            raise InitError(f"签名密钥 / signing key {ks.key_file}: {e}") from None
        keys[alg] = {"key_id": kid, "file": str(ks.key_file), "created": created}
        parts.append(f"{alg} {kid} " + ("已创建 / created" if created else "已存在 / exists"))
    out.step(4, "签名密钥 / signing keys", "; ".join(parts), any(k["created"] for k in keys.values()))
    out.result["keys"] = keys


async def _admin(settings: Settings, name: str, out: Run) -> None:
    from warnengine.api.accounts import check_username, create_user
    from warnengine.api.auth import ApiRole
    from warnengine.clock import SystemClock
    from warnengine.db import connect
    from warnengine.db.store import Store

    try:
        check_username(name)
    except ValueError as e:
        raise InitError(f"--admin {name!r}: {e}") from None
    store = Store(connect(settings.db_url()), SystemClock())
    try:
        users = await store.list_users()
        admins = [u["username"] for u in users if u["role"] == ApiRole.ADMIN.value]
        if admins:
            out.step(5, "管理员 / admin", f"已存在 / exists: {', '.join(admins)}", False)
            out.result["admin"] = {"created": False, "admins": admins}
            return
        if any(u["username"] == name for u in users):
            raise InitError(f"用户 {name} 已存在但不是管理员 / user {name} exists, not an admin: see --admin")
        password = secrets.token_urlsafe(15)  # 20 characters, 120 bits
        await create_user(store, name, password, ApiRole.ADMIN, "管理员 administrator", must_change=True)
        detail = {"role": ApiRole.ADMIN.value, "remote": "local", "one_time": True}
        await store.audit("init", "user.add", name, detail)
    finally:
        await store.close()
    out.step(
        5,
        "管理员 / admin",
        f"已创建 {name}，一次性密码（只显示这一次）/ created {name}, one-time password (shown once): "
        f"{password}\n      首次登录控制台时必须修改 / the console makes you change it at the first login "
        f"(or: warnengine user passwd {name} --permanent)",
        True,
    )
    out.result["admin"] = {"created": True, "user": name, "password": password, "must_change_password": True}
