"""`warnengine demo`: one red rainstorm warning over part of the sample county, end to end.

The expected terminals are computed here from the directory, independently of the pipeline, so `lost`
is measured against the truth and not against the pipeline's own record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from aiokafka import AIOKafkaProducer
from shapely.geometry import box, shape
from sqlalchemy import case, func, select

from warnengine.clock import SystemClock
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.embedded.stack import Stack
from warnengine.embedded.terminals import start_farm
from warnengine.settings import Settings
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
    if fresh and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    stack = Stack(settings)
    farm_task: asyncio.Task[None] | None = None
    try:
        await stack.prepare()
        s = stack.settings
        store = Store(connect(s.db_url()), SystemClock())
        villages = await store.villages()
        devices = await store.device_villages()
        farm = await start_farm(s, devices.items(), SystemClock())
        farm_task = asyncio.create_task(farm.run())
        stack.start_worker(0)
        await stack.wait_ready(0)

        ring = western_part([g for _, _, g in villages])
        expected_villages = await villages_inside(store, villages, ring)
        expected = {d for d, v in devices.items() if v in expected_villages}
        identifier = f"DEMO-{int(time.time() * 1000)}"
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap())
        await producer.start()
        t0 = time.perf_counter()
        try:
            await producer.send_and_wait(
                topics.feed_topic("meteo"), rainstorm_cap(ring, identifier, datetime.now(UTC))
            )
        finally:
            await producer.stop()
        from warnengine.model.warning import chain_id

        warning_id = chain_id("demo.meteo.example.cn", identifier)
        played, commands = 0, 0
        d = t.deliveries.c
        while time.perf_counter() - t0 < timeout_s:
            async with store.engine.connect() as conn:
                commands = (
                    await conn.execute(
                        select(func.count()).where(
                            d.warning_id == warning_id, d.channel == "loudspeaker", d.attempts > 0
                        )
                    )
                ).scalar_one()
                played = (
                    await conn.execute(
                        select(func.count()).where(
                            d.warning_id == warning_id, d.channel == "loudspeaker", d.state == "played"
                        )
                    )
                ).scalar_one()
            if expected and played >= len(expected):
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - t0
        acked_devices = {dev for dev, logic in farm.terminals.items() if logic.state.played}
        homes = await _households(store, warning_id)
        await store.close()
        return {
            "warning_id": warning_id,
            "villages": len(expected_villages),
            "commands": int(commands),
            "acks": int(played),
            "lost": len(expected - acked_devices),
            "elapsed_s": round(elapsed, 3),
            **homes,
        }
    finally:
        if farm_task:
            farm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await farm_task
        stack.stop()


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
