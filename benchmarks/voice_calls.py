"""Voice calls placed per second through the Twilio Voice adapter to the local Twilio Voice fake, against the
fake's own capacity in the same run (issue 16: adapter >= 0.8 of it).

The fake (tests/fakes/twilio_voice.py, callbacks off, `--latency-ms` per request, default 50) runs in its own
process. Measured `--rounds` times, `--calls` distinct numbers each:

- `fake_capacity`: a plain aiohttp load generator, `--concurrency` requests in flight, the same form fields
  (To, From, Twiml, Timeout, StatusCallback, four StatusCallbackEvent) and Basic auth as the adapter sends.
- `adapter`: `TwilioVoice.send_batch` with `max_connections=--concurrency` (rate limiting is the pool's, off
  here). Every call must come back placed (a `CA…` sid), or the round fails.

Prints medians and the ratio; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import Outgoing
from channels.voice_twilio import EVENTS, TwilioVoice, twiml
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

TEXT = "山洪红色预警：请立即转移到安全地带。"
FROM = "+15005550006"
BASE = "https://warn.example.gov.cn"


def _serve(conn: Any, latency_s: float) -> None:
    from tests.fakes.faults import Faults
    from tests.fakes.twilio_voice import FakeTwilioVoice

    async def main() -> None:
        async with FakeTwilioVoice(callbacks=False, faults=Faults(latency_s=latency_s)) as fake:
            conn.send(fake.port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def numbers(round_no: int, n: int, offset: int) -> list[str]:
    return [f"+861{round_no % 10}{offset + i:09d}" for i in range(n)]


async def plain(base: str, to: list[str], concurrency: int) -> int:
    url = f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    ok = 0
    queue = iter(to)

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal ok
        for i, number in enumerate(queue):
            form = [
                ("To", number),
                ("From", FROM),
                ("Twiml", twiml(TEXT, f"{BASE}/webhooks/twilio/voice/gather?d=d-{i}")),
                ("Timeout", "30"),
                ("StatusCallback", f"{BASE}/webhooks/twilio/voice/status?d=d-{i}"),
                ("StatusCallbackMethod", "POST"),
                *(("StatusCallbackEvent", e) for e in EVENTS),
            ]
            async with s.post(url, data=form, headers=headers) as r:
                await r.read()
                ok += r.status == 201

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
    return ok


async def adapter(base: str, to: list[str], concurrency: int) -> int:
    a = TwilioVoice(
        ACCOUNT_SID, AUTH_TOKEN, from_=FROM, api_base=base, callback_base=BASE, max_connections=concurrency
    )
    exp = time.time() + 3600
    try:
        rs = await a.send_batch([Outgoing(f"d-{n}", n, "v", {"text": TEXT}, exp) for n in to])
    finally:
        await a.stop()
    return sum(r.ok for r in rs)


async def rounds(base: str, args: argparse.Namespace) -> dict[str, Any]:
    rates: dict[str, list[float]] = {"fake_capacity": [], "adapter": []}
    for k in range(args.rounds):
        for j, (name, fn) in enumerate((("fake_capacity", plain), ("adapter", adapter))):
            to = numbers(k, args.calls, j * args.calls)
            t0 = time.perf_counter()
            ok = await fn(base, to, args.concurrency)
            dt = time.perf_counter() - t0
            if ok != len(to):
                raise SystemExit(f"round {k} {name}: {ok} of {len(to)} calls placed")
            rates[name].append(len(to) / dt)
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [a / f for a, f in zip(rates["adapter"], rates["fake_capacity"], strict=True)]
    return {
        "calls_per_s": med,
        "ratio": statistics.median(ratios),
        "goal_ratio": 0.8,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "calls": args.calls,
        "rounds": args.rounds,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--latency-ms", type=float, default=50.0)
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, args.latency_ms / 1000), daemon=True)
    proc.start()
    try:
        base = f"http://127.0.0.1:{conn.recv()}"
        result = asyncio.run(rounds(base, args))
    finally:
        conn.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    r = result["calls_per_s"]
    print(f"fake capacity {r['fake_capacity']:.0f} calls/s, adapter {r['adapter']:.0f} calls/s")
    print(f"ratio {result['ratio']:.2f} (goal >= 0.8)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
