"""dispatch_loudspeakers signs each terminal's command with the algorithm the directory gives it, checked by
the `openssl` command line (an implementation independent of ours) over canonical bytes computed here
from the contract in docs/loudspeakers.md, not by warnengine.signing."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import Outgoing, SendResult
from tests.plan.conftest import planned_village
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.stage import DispatchPolicy, dispatch_loudspeakers
from warnengine.model import Channel
from warnengine.signing import Signers, load_or_create_signer, public_path

POLICY = DispatchPolicy(command_ttl_s=3600, resend_after_s=30, max_attempts=5)


class Capture:
    kind = Channel.LOUDSPEAKER
    name = "capture"
    batch_size = 2  # several chunks, so a chunk of Ed25519 only and one with SM2 both occur
    rate_per_s: float | None = None

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        self.sent.extend(batch)
        return [SendResult(o.delivery_id, ok=True) for o in batch]


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is missing (Debian package openssl)")
    return subprocess.run(["openssl", *args], capture_output=True, check=False, timeout=30)


def _canonical(cmd: dict[str, Any]) -> bytes:
    body = {k: v for k, v in cmd.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _der_int(n: int) -> bytes:
    body = n.to_bytes((n.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(body)]) + body


def openssl_verifies(cmd: dict[str, Any], public_pem: Path, work: Path) -> bool:
    """Ed25519 (no `alg`) with `pkeyutl -rawin`; SM2 with `dgst -sm3` and the standard's default ID."""
    (work / "data").write_bytes(_canonical(cmd))
    raw = base64.b64decode(cmd["sig"])
    if cmd.get("alg") == "sm2-sm3":
        ints = _der_int(int.from_bytes(raw[:32], "big")) + _der_int(int.from_bytes(raw[32:], "big"))
        (work / "sig").write_bytes(b"\x30" + bytes([len(ints)]) + ints)
        out = _openssl(
            "dgst",
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-verify",
            str(public_pem),
            "-signature",
            str(work / "sig"),
            str(work / "data"),
        )
        return b"Verified OK" in out.stdout
    (work / "sig").write_bytes(raw)
    out = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(public_pem), "-rawin", "-in", str(work / "data"),
        "-sigfile", str(work / "sig"),
    )  # fmt: skip
    return b"Signature Verified Successfully" in out.stdout


def _mixed(county: County) -> tuple[County, str, set[str]]:
    """The county with every other terminal of its first village registered sm2-sm3."""
    village = next(c.code for c in county.cells if c.level.value == "village")
    here = sorted(d.device_id for d in county.devices if d.cell_code == village)
    sm2 = set(here[1::2])
    devices = [
        d.model_copy(update={"sig_alg": "sm2-sm3"}) if d.device_id in sm2 else d for d in county.devices
    ]
    assert len(here) >= 3 and sm2
    return County(county.cells, county.households, county.people, devices, county.points), village, sm2


async def test_each_terminal_gets_its_own_algorithm(
    store: Store, small_county: County, tmp_path: Path
) -> None:
    county, village, sm2 = _mixed(small_county)
    w, _ = await planned_village(store, county, "w-sig")
    keys = tmp_path / "keys"
    signers = Signers(load_or_create_signer(keys / "engine.key"), sm2_key_file=keys / "engine.sm2.key")
    channel = Capture()
    res = await dispatch_loudspeakers([(w, village)], store, channel, signers, POLICY)
    terminals = {d.device_id for d in county.devices if d.cell_code == village}
    assert res.sent == len(terminals) and {o.recipient for o in channel.sent} == terminals
    assert res.phases["sign_s"] > 0
    ed_pub, sm2_pub = public_path(keys / "engine.key"), public_path(keys / "engine.sm2.key")
    for o in channel.sent:
        mine, other = (sm2_pub, ed_pub) if o.recipient in sm2 else (ed_pub, sm2_pub)
        assert o.body.get("alg") == ("sm2-sm3" if o.recipient in sm2 else None), o.recipient
        assert o.body["device"] == o.recipient and o.body["text"].startswith("山洪")
        assert openssl_verifies(o.body, mine, tmp_path), o.recipient
        assert not openssl_verifies(o.body, other, tmp_path)
        assert not openssl_verifies({**o.body, "priority": 1}, mine, tmp_path)


async def test_an_unsignable_command_waits_with_the_reason(
    store: Store, small_county: County, tmp_path: Path
) -> None:
    """Without an SM2 key the SM2 terminals' commands are not sent (never sent with the wrong algorithm);
    their deliveries stay open with the reason and go out signed once the engine can sign them."""
    county, village, sm2 = _mixed(small_county)
    w, _ = await planned_village(store, county, "w-nosm2")
    ed = load_or_create_signer(tmp_path / "engine.key")
    channel = Capture()
    res = await dispatch_loudspeakers([(w, village)], store, channel, Signers(ed), POLICY)
    assert {o.recipient for o in channel.sent}.isdisjoint(sm2) and res.failed == len(sm2) and res.sent > 0
    d = t.deliveries.c
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(select(t.deliveries).where(d.recipient.in_(sm2), d.warning_id == w.warning_id))
        ).all()
    assert {(r.state, r.attempts, r.reason) for r in rows} == {
        ("pending", 1, "not signed: sm2-sm3: no SM2 key file configured")
    }
    store.clock.advance(POLICY.resend_after_s)  # type: ignore[attr-defined]
    channel.sent.clear()
    fixed = Signers(ed, sm2_key_file=tmp_path / "engine.sm2.key")
    await dispatch_loudspeakers([(w, village)], store, channel, fixed, POLICY)
    sent = {o.recipient: o.body for o in channel.sent}  # unacknowledged: every terminal is due again
    assert sm2 <= set(sent)
    for device in sm2:
        assert sent[device]["alg"] == "sm2-sm3"
        assert openssl_verifies(sent[device], public_path(tmp_path / "engine.sm2.key"), tmp_path)
