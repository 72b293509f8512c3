"""A worker whose Kafka broker is gone (SIGKILL, nobody restarts it): /ready says so, and the log does not
flood (aiokafka alone once logged ~20 connection errors every 50 ms)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from tests.integration.conftest import running_stack


async def test_kafka_gone_makes_the_worker_unready_and_the_log_stays_small(
    tmp_path: Path, small_county_dir: Path
) -> None:
    async with running_stack(tmp_path / "var", small_county_dir) as h:
        await h.start_worker(0)
        assert h.stack.brokers is not None
        log = h.stack.worker_log(0)
        before = len(log.read_text().splitlines())
        h.stack.brokers.procs[0].send_signal(signal.SIGKILL)
        h.stack.brokers.procs[0].wait()
        await asyncio.sleep(12)
        lines = log.read_text().splitlines()[before:]
        assert len(lines) < 80, "\n".join(lines[-40:])
        url = f"http://127.0.0.1:{h.stack.worker_ports[0]}/ready"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            body = await r.json()
        assert r.status == 503, body
        assert body["failed"] == ["kafka"]
