"""`warnengine demo`: one red rainstorm warning over part of the sample county, end to end.

The expected terminals are computed here from the directory, independently of the pipeline, so `lost`
is measured against the truth and not against the pipeline's own record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from aiokafka import AIOKafkaProducer
from shapely.geometry import box, shape
from sqlalchemy import case, func, select

from warnengine.api.app import ApiServer, start_api
from warnengine.clock import clock_for
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.dispatch.in_use import providers_in_use
from warnengine.embedded.demo_loop import accelerated, loop_numbers, wait_closed
from warnengine.embedded.stack import Stack
from warnengine.embedded.terminals import start_farm
from warnengine.embedded.visitors import VisitorsRunning, visitors_if_simulated
from warnengine.settings import Settings
from warnengine.sim.scenario import ScenarioError
from warnengine.wire import topics


def rainstorm_cap(ring: list[tuple[float, float]], identifier: str, sent: datetime) -> bytes:
    """A CAP 1.2 red rainstorm warning (暴雨红色预警) over `ring` of (lon, lat)."""
    poly = " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in ring)
    stamp = sent.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    expires = (sent + timedelta(hours=6)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>demo.meteo.example.cn</sender>
  <sent>{stamp}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Likely</certainty>
    <expires>{expires}</expires>
    <senderName>示范县气象台</senderName>
    <headline>示范县气象台发布暴雨红色预警信号</headline>
    <description>预计未来3小时县域西部降雨量将达100毫米以上，可能引发山洪和城乡积涝。</description>
    <instruction>请立即转移到安全地带，远离河道和低洼地区，停止户外活动。</instruction>
    <parameter><valueName>color</valueName><value>red</value></parameter>
    <area>
      <areaDesc>县域西部</areaDesc>
      <polygon>{poly}</polygon>
    </area>
  </info>
</alert>""".encode()


def western_part(index_geoms: list[dict[str, Any]], share: float = 0.55) -> list[tuple[float, float]]:
    """A rectangle over the western `share` of the county, as a closed ring of (lon, lat)."""
    union = shapely.union_all([shape(g) for g in index_geoms])
    minx, miny, maxx, maxy = union.bounds
    rect = box(minx - 0.01, miny - 0.01, minx + (maxx - minx) * share, maxy + 0.01)
    return [(round(x, 5), round(y, 5)) for x, y in rect.exterior.coords]


async def villages_inside(
    store: Store, villages: list[tuple[str, str, dict[str, Any]]], ring: list[tuple[float, float]]
) -> set[str]:
    """The villages the demo's rectangle reaches, computed apart from the pipeline: those with a household
    inside it (a plain bounds test: the ring is an axis-aligned rectangle), and those with no households on
    record whose outline it touches."""
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    async with store.engine.connect() as conn:
        homes = (
            await conn.execute(select(t.households.c.cell_code, t.households.c.lon, t.households.c.lat))
        ).all()
    inside = {c[:12] for c, x, y in homes if min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys)}
    housed = {c[:12] for c, _, _ in homes}
    rect = box(min(xs), min(ys), max(xs), max(ys))
    return inside | {code for code, _, g in villages if code not in housed and shape(g).intersects(rect)}


async def run_demo(settings: Settings, timeout_s: float = 120.0, fresh: bool = True) -> dict[str, Any]:
    """The red warning until its loop closes: loudspeakers played by the terminal farm, people's messages
    through the simulated providers (unless real credentials are set), visitors reporting to the API."""
    if fresh and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    stack = Stack(accelerated(settings), simulated_people=True)
    farm_task: asyncio.Task[None] | None = None
    api: ApiServer | None = None
    visitors: VisitorsRunning | None = None
    try:
        await stack.prepare()
        s = stack.settings
        clock = clock_for(s.clock_speed, s.clock_epoch)
        store = Store(connect(s.db_url()), clock)
        villages = await store.villages()
        devices = await store.device_villages()
        farm = await start_farm(s, devices.items(), clock)
        farm_task = asyncio.create_task(farm.run())
        stack.start_worker(0)
        api = await start_api(s, port=0)
        await stack.wait_ready(0)
        mode = providers_in_use(s.channels_file, s.simulated_providers).mode
        visitors = await visitors_if_simulated(s, api.url, mode)

        ring = western_part([g for _, _, g in villages])
        expected_villages = await villages_inside(store, villages, ring)
        expected = {d for d, v in devices.items() if v in expected_villages}
        identifier = f"DEMO-{int(time.time() * 1000)}"
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap())
        await producer.start()
        t0 = time.perf_counter()
        try:
            await producer.send_and_wait(
                topics.feed_topic("meteo"),
                rainstorm_cap(ring, identifier, datetime.fromtimestamp(clock.now(), UTC)),
            )
        finally:
            await producer.stop()
        from warnengine.model.warning import chain_id

        warning_id = chain_id("demo.meteo.example.cn", identifier)
        commands, played = await _loudspeakers(store, warning_id, len(expected), t0 + timeout_s)
        silent = {p for p, d in visitors.visitors.world.delay.items() if d is None} if visitors else set()
        report = await wait_closed(store, warning_id, t0 + timeout_s, silent)
        commands, played = await _loudspeakers(store, warning_id, 0, 0.0)
        elapsed = time.perf_counter() - t0
        acked_devices = {dev for dev, logic in farm.terminals.items() if logic.state.played}
        homes = await _households(store, warning_id)
        loop = await loop_numbers(store, warning_id, report, s.data_dir / f"report-{warning_id}.html")
        await store.close()
        return {
            "warning_id": warning_id,
            "villages": len(expected_villages),
            "commands": int(commands),
            "acks": int(played),
            "lost": len(expected - acked_devices),
            "elapsed_s": round(elapsed, 3),
            **homes,
            **loop,
            "providers": mode,
            "clock_speed": s.clock_speed,
        }
    finally:
        if visitors:
            await visitors.stop()
        if api:
            await api.stop()
        if farm_task:
            farm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await farm_task
        stack.stop()


async def _loudspeakers(store: Store, warning_id: str, expected: int, deadline: float) -> tuple[int, int]:
    """Loudspeaker commands sent and played, once `expected` have played or at the deadline."""
    d = t.deliveries.c
    mine = (d.warning_id == warning_id, d.channel == "loudspeaker")
    while True:
        async with store.engine.connect() as conn:
            commands = (await conn.execute(select(func.count()).where(*mine, d.attempts > 0))).scalar_one()
            played = (await conn.execute(select(func.count()).where(*mine, d.state == "played"))).scalar_one()
        if (expected and played >= expected) or time.perf_counter() >= deadline:
            return int(commands), int(played)
        await asyncio.sleep(0.1)


async def _households(store: Store, warning_id: str) -> dict[str, int]:
    """到户 as the live page counts it: households targeted and reached, vulnerable among them, and open."""
    wh = t.warning_households.c
    reached = case((wh.state == "reached", 1), else_=0)
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    func.count(),
                    func.sum(reached),
                    func.sum(case((wh.vulnerable, 1), else_=0)),
                    func.sum(case((wh.vulnerable, reached), else_=0)),
                ).where(wh.warning_id == warning_id)
            )
        ).one()
    households, got, vulnerable, vulnerable_got = (int(x or 0) for x in row)
    return {
        "households": households,
        "households_reached": got,
        "vulnerable": vulnerable,
        "vulnerable_reached": vulnerable_got,
        "unreached": households - got,
    }


def print_result(result: dict[str, Any]) -> None:
    print(json.dumps(result, ensure_ascii=False))


def demo_main(settings: Settings, timeout_s: float) -> int:
    """`warnengine demo`: the last line is the result; 2 for a bad scenario file (the field named), 1 when
    a loudspeaker was lost or a household is neither reached nor named with the reason in the report."""
    try:
        result = asyncio.run(run_demo(settings, timeout_s=timeout_s))
    except ScenarioError as e:
        print(f"warnengine demo: {e}", file=sys.stderr)
        return 2
    print_result(result)
    speakers = result["lost"] == 0 and result["acks"] == result["commands"] > 0
    return 0 if speakers and result["unnamed"] == 0 else 1
