"""`warnengine broadcast`: the real console script → the manual feed → every terminal of a township played.

The pure part (the warning it builds) is checked without brokers; the end-to-end test runs the installed
`warnengine` script as a dispatcher would, against the harness's running stack (URLs from its endpoints
file), so argument parsing, the directory check and the Kafka produce are all the shipped code.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tests.integration.conftest import Harness
from warnengine.db import tables as t
from warnengine.directory import County
from warnengine.dispatch.compose import PRIORITY, speaker_command
from warnengine.manual.broadcast import (
    SEVERITY_BY_PRIORITY,
    BroadcastError,
    build_broadcast,
    parse_codes,
)
from warnengine.model import Hazard, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise.parse import parse_feed
from warnengine.signing import Signer, Verifier

# The console script installed next to this interpreter (the venv's bin/), not whatever is on PATH.
WARNENGINE = Path(sys.executable).parent / "warnengine"
TOWNSHIP_CODE = "530102001000"


def test_priority_table_is_the_inverse_of_compose() -> None:
    assert {p: s.value for p, s in SEVERITY_BY_PRIORITY.items()} == {
        3: "blue",
        5: "yellow",
        7: "orange",
        9: "red",
    }
    assert all(PRIORITY[s] == p for p, s in SEVERITY_BY_PRIORITY.items())


def test_the_broadcast_is_an_ordinary_json_warning_on_the_manual_feed() -> None:
    now = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)
    b = build_broadcast(
        [TOWNSHIP_CODE], " 请立即撤离到安全地带 ", priority=9, hazard=Hazard.FLOOD, operator="王伟", now=now
    )
    w = parse_feed(b.payload, "manual")
    assert (w.warning_id, w.sender, w.identifier) == (b.warning_id, "dispatcher:王伟", b.identifier)
    assert b.warning_id == chain_id("dispatcher:王伟", b.identifier)
    assert (w.source, w.status, w.severity, w.hazard) == ("manual", Status.ACTUAL, Severity.RED, Hazard.FLOOD)
    assert w.areas[0].codes == [TOWNSHIP_CODE]
    assert w.expires is not None and (w.expires - now).total_seconds() == 3600
    assert w.broadcast_text() == "请立即撤离到安全地带。"  # spoken once, not headline + description
    signer = Signer(Ed25519PrivateKey.generate())  # any key: what matters is the priority signed
    cmd = speaker_command(w, "d-1", 0.0, 10.0, signer)
    assert (cmd["priority"], cmd["action"]) == (9, "play")
    assert Verifier([signer.public]).verify(cmd) is None
    # Identifiers never repeat, even for the same text in the same second.
    again = build_broadcast([TOWNSHIP_CODE], "x", operator="a", now=now)
    assert again.identifier != build_broadcast([TOWNSHIP_CODE], "x", operator="a", now=now).identifier


def test_exercise_is_a_drill() -> None:
    b = build_broadcast(["530102001001"], "演习", operator="a", now=datetime.now(UTC), exercise=True)
    assert parse_feed(b.payload, "manual").status == Status.EXERCISE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority": 1}, "--priority"),
        ({"priority": 8}, "--priority"),
        ({"text": "  "}, "--text"),
        ({"expires_min": 0}, "--expires-min"),
        ({"expires_min": 2000}, "--expires-min"),
        ({"operator": "a,b"}, "--operator"),
        ({"operator": ""}, "--operator"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"text": "x", "operator": "a", "now": datetime.now(UTC), **kwargs}
    with pytest.raises(BroadcastError, match=message):
        build_broadcast([TOWNSHIP_CODE], **args)  # type: ignore[arg-type]


def test_codes() -> None:
    assert parse_codes(" 530102001000,530102001001 ,530102001000,") == ["530102001000", "530102001001"]
    assert parse_codes("53010200100101,530102001001001") == ["53010200100101", "530102001001001"]  # groups
    for bad in ("", ",", "5301", "53010200100x", "5301020010010011"):
        with pytest.raises(BroadcastError):
            parse_codes(bad)


async def run_cli(harness: Harness, *args: str) -> tuple[int, str, str]:
    """The console script as a dispatcher runs it; the loop stays free so the farm keeps answering.

    Broker URLs come from the stack's endpoints file; a database given by URL (PostgreSQL) is in the
    dispatcher's environment, as WARNENGINE_DATABASE_URL would be on a real console.
    """
    env = dict(os.environ)
    if harness.settings.database_url:
        env["WARNENGINE_DATABASE_URL"] = harness.settings.database_url
    proc = await asyncio.create_subprocess_exec(
        str(WARNENGINE),
        "--data-dir",
        str(harness.settings.data_dir),
        "broadcast",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_broadcast_cli_reaches_every_terminal_of_a_township(
    harness: Harness, small_county: County
) -> None:
    farm = await harness.start_farm()
    await harness.start_worker()
    township = next(c for c in small_county.cells if c.level == "township")
    villages = {c.code for c in small_county.cells if c.parent == township.code}
    expected = {d.device_id for d in small_county.devices if d.cell_code in villages}
    assert expected

    # A code the directory does not know would reach no one: refused, nothing sent.
    rc, out, err = await run_cli(harness, "--codes", "530199999000", "--text", "x", "--operator", "a")
    assert (rc, out) == (2, "") and "nothing was sent" in err

    text = "紧急通知：河道水位上涨，沿河群众请立即撤离"
    rc, out, err = await run_cli(
        harness, "--codes", township.code, "--text", text, "--priority", "9", "--operator", "王伟"
    )
    assert rc == 0, err
    result = json.loads(out)
    assert result["warning_id"] == chain_id("dispatcher:王伟", result["identifier"])
    assert (result["villages_expected"], result["terminals_expected"]) == (len(villages), len(expected))
    assert (result["severity"], result["priority"]) == ("red", 9)

    await harness.wait_all_played(result["warning_id"], expected)
    assert all(farm.terminals[d].state.played == 1 for d in expected)  # verified the engine's signature
    assert farm.stats()["rejected"] == 0
    async with harness.store.engine.connect() as conn:  # the refused broadcast left no trace
        rows = (await conn.execute(select(t.warnings).where(t.warnings.c.sender.like("dispatcher:%")))).all()
    assert [(r.warning_id, r.sender) for r in rows] == [(result["warning_id"], "dispatcher:王伟")]
    w = await harness.store.load_warning(result["warning_id"], 1)
    assert w is not None and w.source == "manual" and w.broadcast_text() == text + "。"
