"""SM2 command signing: what per-terminal SM2 costs the dispatch of a county-wide warning.

1. Per operation, on a real command (the canonical bytes of a red warning's `play`, ~450 bytes): sign and
   verify with each installed SM2 backend (gmalglib in C, gmssl in pure Python) and with Ed25519
   (`cryptography`). The limit in the same run: OpenSSL's own SM2 (`openssl speed -mr sm2`, C).
2. `dispatch_loudspeakers` over a generated county (default 800 villages, ~1,600 terminals, SQLite, a
   channel that accepts everything): every terminal Ed25519, every terminal SM2 with each backend. Per run:
   the stage's phases (`claim_s`, `sign_s`, `send_s`, `total_s`) and the longest the event loop went
   without running a 5 ms ticker (SM2 is signed in a worker thread so Kafka heartbeats and MQTT acks keep
   flowing; the GIL still makes it the same CPU).
3. The signature algorithm rides on the claim query (a primary-key join to `devices`): the same SELECT
   with and without the join over the run's deliveries, median of 20.

    .venv/bin/python benchmarks/sm2_signing.py [--villages 800] [--ops 300]

Prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, tuple_

from channels.base import Outgoing, SendResult
from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import generate_county
from warnengine.dispatch.compose import speaker_body
from warnengine.dispatch.stage import DispatchPolicy, dispatch_loudspeakers
from warnengine.model import Area, Channel, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.plan.policy import DEFAULT
from warnengine.plan.stage import plan_deliveries
from warnengine.resolve.directory import Directory
from warnengine.signing import Signer, Signers, Verifier, canonical_bytes
from warnengine.signing.sm2 import Sm2Signer, Sm2Verifier, available_backends

POLICY = DispatchPolicy(command_ttl_s=3600, resend_after_s=30, max_attempts=5)


class Accept:
    kind = Channel.LOUDSPEAKER
    name = "accept"
    batch_size = 500  # as the MQTT channel
    rate_per_s: float | None = None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        return [SendResult(o.delivery_id, ok=True) for o in batch]


def _warning(warning_id: str, codes: list[str]) -> HazardWarning:
    return HazardWarning(
        warning_id=warning_id,
        version=1,
        sender="bench",
        identifier=warning_id,
        sent=datetime.now(UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        headline="山洪红色预警",
        description="预计未来3小时内将出现强降雨，可能引发山洪、泥石流，请沿河、低洼地带人员立即转移。",
        areas=[Area(codes=codes)],
    )


def _per_op(fn: Callable[[], object], n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def per_operation(ops: int) -> dict[str, Any]:
    body = speaker_body(
        _warning("w-op", ["0"]), "d-" + "0" * 20, time.time(), time.time() + 3600, "spk-1", "1"
    )
    out: dict[str, Any] = {"command_bytes": len(canonical_bytes(body))}
    ed = Signer(Ed25519PrivateKey.generate())
    signed = ed.sign(body)
    v = Verifier([ed.public])
    out["ed25519"] = {
        "sign_ms": _per_op(lambda: ed.sign(body), ops),
        "verify_ms": _per_op(lambda: v.verify(signed), ops),
    }
    for name in available_backends():
        n = ops if name != "gmssl" else max(10, ops // 20)  # pure Python: ~20 ms each
        s = Sm2Signer.generate(name)
        cmd = s.sign(body)
        sv = Sm2Verifier([s.public], name)
        assert sv.verify(cmd) is None
        out[f"sm2_{name}"] = {
            "sign_ms": _per_op(partial(s.sign, body), n),
            "verify_ms": _per_op(partial(sv.verify, cmd), n),
        }
    speed = subprocess.run(
        ["openssl", "speed", "-mr", "-seconds", "2", "sm2"], capture_output=True, text=True
    )
    for line in speed.stdout.splitlines():
        if line.startswith("+F7:"):  # +F7:0:256:CurveSM2:sign/s:verify/s
            sign_s, verify_s = (float(x) for x in line.split(":")[4:6])
            out["limit_openssl_sm2"] = {"sign_ms": 1000 / sign_s, "verify_ms": 1000 / verify_s}
    return out


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def dispatch_runs(villages: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="warnengine-bench-sm2-"))
    county = generate_county(
        seed=3, villages=villages, townships=13, groups_per_village=(1, 2), households_per_group=(1, 2)
    )
    store = Store(connect(f"sqlite+aiosqlite:///{work / 'bench.db'}"), SystemClock())
    await migrate(store.engine)
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    directory = await Directory.load(store)
    codes = [c.code for c in county.cells if c.level.value == "village"]
    signers = Signers(Signer(Ed25519PrivateKey.generate()))
    runs: dict[str, Any] = {"terminals": len(county.devices)}
    # The first dispatch of a process pays for SQLAlchemy's statement cache and imports: warm up, discard.
    variants: list[tuple[str, str, str | None]] = [("warmup", "ed25519", None), ("ed25519", "ed25519", None)]
    variants += [(f"sm2_{b}", "sm2-sm3", b) for b in available_backends()]
    for label, alg, backend in variants:
        await store.import_directory(
            [], [], [], [d.model_copy(update={"sig_alg": alg}) for d in county.devices]
        )
        if backend is not None:
            signers = Signers(signers.ed25519, Sm2Signer.generate(backend))
        w = _warning(f"w-{label}", codes)
        await store.save_warning(w)
        await plan_deliveries(w, directory, DEFAULT, store, 3600)
        gaps: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(gaps, stop))
        await asyncio.sleep(0.02)
        res = await dispatch_loudspeakers([(w, v) for v in codes], store, Accept(), signers, POLICY)
        stop.set()
        await ticker
        assert res.sent == len(county.devices), res
        if label != "warmup":
            runs[label] = {**res.phases, "max_loop_stall_ms": round(max(gaps) * 1000, 1)}
    runs["claim_join"] = await _join_cost(store, "w-ed25519", codes)
    await store.close()
    shutil.rmtree(work, ignore_errors=True)
    return runs


async def _join_cost(store: Store, warning_id: str, codes: list[str]) -> dict[str, float]:
    """The claim's SELECT over one county-wide warning's deliveries, with and without the devices join,
    alternated so both see the same machine."""
    d, dv = t.deliveries.c, t.devices.c
    keys = [(warning_id, 1, v, "loudspeaker") for v in codes]
    cols = [d.delivery_id, d.warning_id, d.version, d.village_code, d.recipient, d.attempts, d.expires_at]
    plain = select(*cols, d.channel, d.text)
    joined = select(*cols, d.channel, d.text, dv.sig_alg).select_from(
        t.deliveries.outerjoin(t.devices, dv.device_id == d.recipient)
    )
    times: dict[str, list[float]] = {"without_ms": [], "with_ms": []}
    rows = 0
    for _ in range(20):
        for name, q in (("without_ms", plain), ("with_ms", joined)):
            t0 = time.perf_counter()
            async with store.engine.connect() as conn:
                rows = 0
                for i in range(0, len(keys), 300):  # as claim_due chunks its keys
                    key = tuple_(d.warning_id, d.version, d.village_code, d.channel)
                    rows += len((await conn.execute(q.where(key.in_(keys[i : i + 300])))).all())
            times[name].append((time.perf_counter() - t0) * 1000)
    return {"rows": rows, **{k: round(statistics.median(v), 2) for k, v in times.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--villages", type=int, default=800)
    p.add_argument("--ops", type=int, default=300)
    args = p.parse_args()
    result = {"per_op": per_operation(args.ops), "dispatch": asyncio.run(dispatch_runs(args.villages))}
    for name, value in result["per_op"].items():
        if isinstance(value, dict):
            print(f"{name:>20}: sign {value['sign_ms']:.3f} ms, verify {value['verify_ms']:.3f} ms")
    for name, value in result["dispatch"].items():
        print(f"{name:>20}: {value}")
    print(json.dumps(result, default=lambda x: round(x, 4)))


if __name__ == "__main__":
    main()
