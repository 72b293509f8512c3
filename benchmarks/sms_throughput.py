"""SMS throughput through the Twilio adapter to the local Twilio fake, against the limits in the same run.

The fake (tests/fakes/twilio.py, status callbacks off) runs in its own process, so the sender and the fake
do not share a core (a 2-core machine has one each). Every round sends distinct messages; the fake's own
count of messages created is checked after each (no loss, no duplicates). Measured, `--rounds` times:

- `fake_capacity`: a plain aiohttp load generator, `--concurrency` requests in flight, the same form fields
  and Basic auth as the adapter sends: the fastest this fake can be driven from one Python process.
- `pool`: this project's ProviderPool + TwilioSms (the twilio SDK's async client), rate limiting off.
- `apprise`: Apprise's Twilio plugin (`apprise.plugins.twilio.NotifyTwilio`) aimed at the fake by patching
  its class attribute `notify_sms_url` in-process (Apprise has no base-URL option). Apprise throttles the
  Twilio plugin to one request per 0.2 s (`request_rate_per_sec = 0.20`); it is measured as shipped
  (`apprise_default`) and with that throttle set to 0 (`apprise`), and the goal is judged on the latter.
- `naive_sdk`: `for m in messages: Client(...).messages.create(...)` (the SDK's sync client, one Client).
- `rate_limited`: the pool with a token bucket (`--rate`, burst `--burst`): arrival times at the fake, the
  most messages in any 1 s window and the mean rate, against the limit.

Goals (issue 5): pool >= 10x apprise, >= 5x naive_sdk, >= 70% of fake_capacity; rate never above the limit.
With `--latency-ms 0` every sender is CPU-bound on a loopback fake (the per-message CPU cost is printed too);
`--latency-ms 50` adds a provider round trip, which is what the sequential senders pay in production.
Prints medians and ratios; the last line is one JSON object.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import Outgoing
from channels.config import BreakerConfig, PoolConfig, ProviderConfig, RetryConfig
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from warnengine.dispatch.sender import build_pool
from warnengine.model import Channel

TEXT = "【县应急管理局】山洪红色预警：请立即转移到安全地带。回复1表示收到。"
FROM = "+15005550006"


# -- the fake, in its own process -------------------------------------------------------------------------


def _serve(conn: Any, latency_s: float) -> None:
    from tests.fakes.faults import Faults
    from tests.fakes.twilio import FakeTwilio

    async def main() -> None:
        async with FakeTwilio(callbacks=False, faults=Faults(latency_s=latency_s)) as fake:
            conn.send(fake.port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop

    asyncio.run(main())


class FakeProcess:
    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s

    def __enter__(self) -> str:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.latency_s), daemon=True)
        self._proc.start()
        port = self._conn.recv()
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


async def stats(base: str, arrivals: bool = False) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/_fake/stats" + ("?arrivals=1" if arrivals else "")) as r:
            data: dict[str, Any] = await r.json()
        async with s.post(f"{base}/_fake/reset") as r:
            await r.read()
    return data


def numbers(round_no: int, n: int, offset: int = 0) -> list[str]:
    return [f"+861{round_no % 10}{offset + i:09d}" for i in range(n)]


# -- the four senders --------------------------------------------------------------------------------------


async def plain_aiohttp(base: str, to: list[str], concurrency: int) -> int:
    url = f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    ok = 0
    queue = iter(to)

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal ok
        for number in queue:
            # The same form fields as the adapter sends, so the fake does the same work per message.
            fields = {"To": number, "From": FROM, "Body": TEXT, "ValidityPeriod": 3600}
            fields["StatusCallback"] = f"https://warn.example.gov.cn/webhooks/twilio/status?d=d-{number}"
            form = urlencode(fields).encode()
            async with s.post(url, data=form, headers=headers) as r:
                await r.read()
                ok += r.status == 201

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
    return ok


def pool_config(base: str, concurrency: int, rate: float | None = None, burst: float = 1) -> PoolConfig:
    params = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_": FROM,
        "api_base": base,
        "max_connections": concurrency,
        "status_callback_base": "https://warn.example.gov.cn",
    }
    return PoolConfig(
        Channel.SMS,
        [ProviderConfig("sms-twilio", "twilio-bench", params, rate_per_s=rate, burst=burst)],
        RetryConfig(attempts=3, initial_s=0.05, max_s=1),
        BreakerConfig(),
    )


async def through_pool(
    base: str, to: list[str], concurrency: int, rate: float | None = None, burst: float = 1
) -> int:
    pool = build_pool(pool_config(base, concurrency, rate, burst))
    await pool.start()
    exp = time.time() + 3600
    batch = [Outgoing(f"d-{n}", n, "v", {"text": TEXT}, exp) for n in to]
    try:
        results = await pool.send(batch)
    finally:
        await pool.stop()
    return sum(r.ok for r in results)


def apprise_loop(base: str, to: list[str], throttle: bool) -> int:
    import apprise
    from apprise.plugins.twilio import NotifyTwilio

    NotifyTwilio.notify_sms_url = f"{base}/2010-04-01/Accounts/{{sid}}/Messages.json"
    NotifyTwilio.request_rate_per_sec = 0.20 if throttle else 0.0
    a = apprise.Apprise()
    a.add(f"twilio://{ACCOUNT_SID}:{AUTH_TOKEN}@{FROM}/" + "/".join(to))
    return len(to) if a.notify(body=TEXT) else 0


def naive_sdk(base: str, to: list[str]) -> int:
    from twilio.rest import Client

    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = base
    ok = 0
    for number in to:
        ok += client.messages.create(to=number, from_=FROM, body=TEXT).sid.startswith("SM")
    return ok


# -- measuring ---------------------------------------------------------------------------------------------


CPU_US: dict[str, list[float]] = {}  # sender's CPU per message (µs): less sensitive to a busy machine


async def measure(base: str, name: str, n: int, round_no: int, run: Callable[[list[str]], Any]) -> float:
    to = numbers(round_no, n)
    t0, c0 = time.perf_counter(), time.process_time()
    got = run(to)
    sent = await got if asyncio.iscoroutine(got) else got
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = await stats(base)
    if sent != n or s["accepted"] != n or s["duplicates"]:
        raise SystemExit(f"{name}: sent {sent}, fake accepted {s['accepted']} ({s['duplicates']} dup) of {n}")
    CPU_US.setdefault(name, []).append(cpu / n * 1e6)
    return n / elapsed


async def rate_limited(base: str, n: int, rate: float, burst: float, concurrency: int) -> dict[str, float]:
    t0 = time.perf_counter()
    sent = await through_pool(base, numbers(9, n, offset=7_000_000), concurrency, rate, burst)
    elapsed = time.perf_counter() - t0
    at = sorted((await stats(base, arrivals=True))["arrivals"])
    if sent != n or len(at) != n:
        raise SystemExit(f"rate_limited: sent {sent}, fake saw {len(at)} of {n}")
    j, most = 0, 0
    for i in range(n):  # most arrivals in any window [t, t + 1 s)
        while j < n and at[j] < at[i] + 1.0:
            j += 1
        most = max(most, j - i)
    return {
        "limit_per_s": rate,
        "burst": burst,
        # The bucket allows burst + rate × t in any interval t, so over the whole run the rate beyond
        # the initial burst is the one to hold against the limit.
        "sustained_per_s": (n - burst) / (at[-1] - at[0]),
        "max_in_any_1s_window": most,
        "allowed_in_1s": rate + burst,
        "wall_s": elapsed,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--messages", type=int, default=3000, help="per round, fake_capacity and pool")
    ap.add_argument("--naive-messages", type=int, default=600)
    ap.add_argument("--apprise-messages", type=int, default=400)
    ap.add_argument("--apprise-default-messages", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--burst", type=float, default=1.0)
    ap.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="the fake answers after this long (a network round trip to the provider); 0: CPU-bound",
    )
    args = ap.parse_args()
    c = args.concurrency
    runs: dict[str, list[float]] = {
        k: [] for k in ("fake_capacity", "pool", "apprise", "naive_sdk", "apprise_default")
    }
    with FakeProcess(args.latency_ms / 1000) as base:
        await measure(base, "warmup", 500, 0, lambda to: plain_aiohttp(base, to, c))
        for r in range(1, args.rounds + 1):
            runs["fake_capacity"].append(
                await measure(base, "fake", args.messages, r, lambda to: plain_aiohttp(base, to, c))
            )
            runs["pool"].append(
                await measure(base, "pool", args.messages, r, lambda to: through_pool(base, to, c))
            )
            runs["apprise"].append(
                await measure(
                    base, "apprise", args.apprise_messages, r, lambda to: apprise_loop(base, to, False)
                )
            )
            runs["naive_sdk"].append(
                await measure(base, "naive", args.naive_messages, r, lambda to: naive_sdk(base, to))
            )
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in runs.items() if v), flush=True)
        runs["apprise_default"].append(
            await measure(
                base,
                "apprise-default",
                args.apprise_default_messages,
                1,
                lambda to: apprise_loop(base, to, True),
            )
        )
        limited = await rate_limited(base, int(args.rate * 3), args.rate, args.burst, c)
    med = {k: statistics.median(v) for k, v in runs.items()}

    def per_round(a: str, b: str) -> float:  # ratios within a round, then the median: the load is shared
        return statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=False))

    ratios = {
        "pool_over_apprise": per_round("pool", "apprise"),
        "pool_over_apprise_default": med["pool"] / med["apprise_default"],
        "pool_over_naive_sdk": per_round("pool", "naive_sdk"),
        "pool_share_of_fake_capacity": per_round("pool", "fake_capacity"),
    }
    cpu = {k: statistics.median(v) for k, v in CPU_US.items() if k != "warmup"}
    goals = {
        "10x_apprise": ratios["pool_over_apprise"] >= 10,
        "5x_naive": ratios["pool_over_naive_sdk"] >= 5,
        "70pc_of_fake": ratios["pool_share_of_fake_capacity"] >= 0.7,
        "rate_never_exceeded": limited["max_in_any_1s_window"] <= limited["allowed_in_1s"]
        and limited["sustained_per_s"] <= limited["limit_per_s"],
    }
    print("medians (messages/s): " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
    print("ratios (median of per-round): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print("sender CPU per message (µs): " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()))
    print(
        f"rate limited: limit {limited['limit_per_s']:.0f}/s burst {limited['burst']:.0f}: sustained "
        f"{limited['sustained_per_s']:.1f}/s, most in any 1 s window {limited['max_in_any_1s_window']:.0f}"
    )
    print("goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()))
    print(
        json.dumps(
            {"medians_per_s": med, "ratios": ratios, "rate_limited": limited, "goals": goals, "runs": runs}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
