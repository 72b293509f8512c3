"""`warnengine init` against a real Kafka-protocol broker (Tansu) and SQLite or PostgreSQL: everything made
once, a second run changes nothing, bad input is one line and exit code 2."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.conftest import fresh_pg_database
from warnengine.api.auth import verify_password
from warnengine.cli.main import build_parser
from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db.store import Store
from warnengine.embedded.brokers import EmbeddedBrokers, free_port
from warnengine.pipeline.kafka_admin import all_topics

PARTITIONS = 3


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[EmbeddedBrokers]:
    brokers = EmbeddedBrokers(tmp_path / "brokers", with_mqtt=False)
    brokers.start()
    yield brokers
    brokers.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, kafka: EmbeddedBrokers, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "WARNENGINE_KAFKA_URL": kafka.kafka_url,
        "WARNENGINE_DATA_DIR": str(tmp_path / "var"),
        "WARNENGINE_TOPIC_PARTITIONS": str(PARTITIONS),
    }
    if request.param == "postgresql":
        values["WARNENGINE_DATABASE_URL"] = asyncio.run(fresh_pg_database(request.getfixturevalue("pg_url")))
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def warnengine(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    code = args.fn(args)
    out, err = capsys.readouterr()
    return code, out, err


def init_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = warnengine(capsys, "init", "--json", *argv)
    assert "Traceback" not in err
    return code, json.loads(out)


async def describe(bootstrap: str) -> dict[str, tuple[int, int]]:
    """topic -> (partitions, replicas of partition 0), as the broker reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {
            d["topic"]: (len(d["partitions"]), len(d["partitions"][0]["replicas"]))
            for d in await admin.describe_topics(await admin.list_topics())
        }
    finally:
        await admin.close()


async def admin_password_ok(db_url: str, user: str, password: str) -> bool:
    store = Store(connect(db_url), SystemClock())
    try:
        row = await store.get_user(user)
        return (
            row is not None
            and row["role"] == "admin"
            and await verify_password(row["password_hash"], password)
        )
    finally:
        await store.close()


async def must_change(db_url: str, user: str) -> bool:
    store = Store(connect(db_url), SystemClock())
    try:
        row = await store.get_user(user)
        assert row is not None
        return bool(row["must_change_password"])
    finally:
        await store.close()


def db_url(env: dict[str, str]) -> str:
    return (
        env.get("WARNENGINE_DATABASE_URL")
        or f"sqlite+aiosqlite:///{env['WARNENGINE_DATA_DIR']}/warnengine.db"
    )


def test_init_once_then_nothing(
    env: dict[str, str],
    kafka: EmbeddedBrokers,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, first = init_json(capsys, "--admin", "chief")
    assert code == 0 and first["changed"]
    assert first["kafka"] == {
        "bootstrap": kafka.kafka_url.removeprefix("kafka://"),
        "brokers": 1,
        "replication": 1,
    }
    assert first["database"]["before"] is None and first["database"]["revision"]
    assert sorted(first["topics"]["created"]) == sorted(all_topics())
    topics = asyncio.run(describe(kafka.kafka_url.removeprefix("kafka://")))
    assert {t: topics[t] for t in all_topics()} == {t: (PARTITIONS, 1) for t in all_topics()}
    keys = Path(env["WARNENGINE_DATA_DIR"]) / "keys"
    for alg, key in first["keys"].items():
        assert key["created"], alg
        assert stat.S_IMODE(Path(key["file"]).stat().st_mode) == 0o600
        assert (keys / "published" / f"{alg}-{key['key_id']}.pub").exists()
    password = first["admin"]["password"]
    assert first["admin"]["created"] and first["admin"]["user"] == "chief" and len(password) >= 20
    assert asyncio.run(admin_password_ok(db_url(env), "chief", password))
    assert not asyncio.run(admin_password_ok(db_url(env), "chief", password + "x"))
    # One-time indeed: the console lets the admin do nothing before changing it.
    assert first["admin"]["must_change_password"] and asyncio.run(must_change(db_url(env), "chief"))
    key_bytes = {p.name: p.read_bytes() for p in keys.iterdir() if p.is_file()}

    code, second = init_json(capsys, "--admin", "chief")
    assert code == 0 and not second["changed"]
    assert second["database"]["before"] == second["database"]["revision"] == first["database"]["revision"]
    assert second["topics"]["created"] == [] and sorted(second["topics"]["existing"]) == sorted(all_topics())
    assert all(not k["created"] for k in second["keys"].values())
    assert {alg: k["key_id"] for alg, k in second["keys"].items()} == {
        alg: k["key_id"] for alg, k in first["keys"].items()
    }
    assert second["admin"] == {"created": False, "admins": ["chief"]}
    assert "password" not in json.dumps(second)
    assert {p.name: p.read_bytes() for p in keys.iterdir() if p.is_file()} == key_bytes

    # Or the one-time password is replaced on the command line, `warnengine user passwd --permanent`
    # (without it the new password would be one-time too); afterwards the old one no longer works.
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-long-password\n"))
    code, _, _ = warnengine(capsys, "user", "passwd", "chief", "--password-stdin", "--permanent")
    assert code == 0
    assert not asyncio.run(admin_password_ok(db_url(env), "chief", password))
    assert asyncio.run(admin_password_ok(db_url(env), "chief", "a-new-long-password"))
    assert not asyncio.run(must_change(db_url(env), "chief"))


def test_human_output_says_nothing_changed(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = warnengine(capsys, "init")
    assert code == 0
    assert "[5/5]" in out and "一次性密码" in out and "one-time password" in out
    assert "change it at the first login" in out
    code, out, _ = warnengine(capsys, "init")
    assert code == 0
    assert [line.split("]")[0] for line in out.splitlines()[:5]] == [f"[{n}/5" for n in range(1, 6)]
    assert out.rstrip().endswith("nothing to do, nothing changed")
    assert "password (shown once)" not in out


def test_topics_with_fewer_partitions_are_reported_not_changed(
    env: dict[str, str], kafka: EmbeddedBrokers, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = kafka.kafka_url.removeprefix("kafka://")
    small = all_topics()[0]

    async def create_small() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(small, 1, 1)])
        finally:
            await admin.close()

    asyncio.run(create_small())
    code, result = init_json(capsys)
    assert code == 1
    assert result["topics"]["short"] == {small: 1}
    assert (
        small not in result["topics"]["created"] and len(result["topics"]["created"]) == len(all_topics()) - 1
    )
    assert any(small in line and f"configured {PARTITIONS}" in line for line in result["attention"])
    assert asyncio.run(describe(bootstrap))[small] == (1, 1)


def test_an_existing_admin_means_no_new_one(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("the-admins-password\n"))
    code, _, _ = warnengine(capsys, "user", "add", "boss", "--role", "admin", "--password-stdin")
    assert code == 0
    code, result = init_json(capsys)
    assert code == 0 and result["admin"] == {"created": False, "admins": ["boss"]}


def test_too_few_brokers_for_the_replication_factor(
    env: dict[str, str], kafka: EmbeddedBrokers, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = warnengine(capsys, "init", "--replication-factor", "3")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "replication factor 3 needs 3 brokers, the cluster has 1" in err
    assert asyncio.run(describe(kafka.kafka_url.removeprefix("kafka://"))) == {}  # nothing created
    assert not (Path(env["WARNENGINE_DATA_DIR"]) / "keys").exists()


def test_kafka_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARNENGINE_KAFKA_URL", f"kafka://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WARNENGINE_DATA_DIR", str(tmp_path / "var"))
    code, out, err = warnengine(capsys, "init", "--kafka-timeout", "0.5")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(
        "warnengine init: Kafka 无法连接 / unreachable at 127.0.0.1:"
    )


def test_no_kafka_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WARNENGINE_KAFKA_URL", raising=False)
    monkeypatch.setenv("WARNENGINE_DATA_DIR", str(tmp_path / "var"))
    code, _, err = warnengine(capsys, "init")
    assert code == 2 and err.count("\n") == 1 and "WARNENGINE_KAFKA_URL" in err


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"postgresql+asyncpg://warn:s3cret-pw@127.0.0.1:{free_port()}/warnengine", "Connect call failed"),
        ("not a url s3cret-pw", "cannot be parsed"),
        ("nosuchdb+driver://warn:s3cret-pw@host/db", "NoSuchModuleError"),
    ],
)
def test_database_url_wrong(
    kafka: EmbeddedBrokers,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    said: str,
) -> None:
    monkeypatch.setenv("WARNENGINE_KAFKA_URL", kafka.kafka_url)
    monkeypatch.setenv("WARNENGINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("WARNENGINE_DATABASE_URL", url)
    code, _, err = warnengine(capsys, "init")
    assert code == 2 and err.count("\n") == 1 and said in err
    assert "s3cret-pw" not in err and "Traceback" not in err
