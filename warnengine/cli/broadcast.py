"""`warnengine broadcast`: the command line of a manual broadcast (warnengine/manual/broadcast.py)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from warnengine.manual.broadcast import (
    DEFAULT_EXPIRES_MIN,
    DEFAULT_PRIORITY,
    SOURCE,
    Broadcast,
    BroadcastError,
    build_broadcast,
    parse_codes,
)
from warnengine.model import Hazard
from warnengine.resolve.index import code_prefix
from warnengine.settings import Settings
from warnengine.wire import topics


async def expected_reach(settings: Settings, codes: list[str]) -> dict[str, list[str]]:
    """Code → the villages of the directory under it (the same prefix rule as the resolve stage)."""
    from sqlalchemy import select

    from warnengine.db import connect
    from warnengine.db import tables as t

    engine = connect(settings.db_url())
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(t.cells.c.code).where(t.cells.c.level == "village"))
            villages = sorted(r.code for r in rows)
    finally:
        await engine.dispose()
    out: dict[str, list[str]] = {}
    for code in codes:
        prefix = code_prefix(code) or code  # parse_codes let only valid codes through
        out[code] = [v for v in villages if v.startswith(prefix)]
    return out


async def count_terminals(settings: Settings, villages: list[str]) -> int:
    from warnengine.clock import SystemClock
    from warnengine.db import connect
    from warnengine.db.store import Store

    store = Store(connect(settings.db_url()), SystemClock())
    try:
        return sum(len(d) for d in (await store.devices_by_village(villages)).values())
    finally:
        await store.close()


async def send(settings: Settings, b: Broadcast, timeout_s: float = 30.0) -> None:
    """Put the warning on the manual feed topic and wait for the broker to have it (acks=all)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap(), acks="all", request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
        # Keyed by chain so a later Update/Cancel of the same broadcast stays in order behind it.
        await asyncio.wait_for(
            producer.send_and_wait(topics.feed_topic(SOURCE), b.payload, key=b.warning_id.encode()),
            timeout_s,
        )
    finally:
        await producer.stop()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codes", required=True, help="comma-separated township/village (or county) codes")
    p.add_argument("--text", required=True, help="what the loudspeakers say (TTS)")
    p.add_argument(
        "--priority",
        type=int,
        default=DEFAULT_PRIORITY,
        help="9 red, 7 orange, 5 yellow, 3 blue (default 7: never interrupts a red warning)",
    )
    p.add_argument("--hazard", default=Hazard.OTHER.value, choices=[h.value for h in Hazard])
    p.add_argument("--expires-min", type=float, default=DEFAULT_EXPIRES_MIN, help="lifetime in minutes")
    p.add_argument("--operator", default=None, help="who is broadcasting (default: the login name)")
    p.add_argument("--exercise", action="store_true", help="a drill: terminals prefix 演练，演练。")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="send without checking the codes against the directory (database unreachable)",
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): the operator must then say who
        return "unknown"


async def broadcast(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    codes = parse_codes(args.codes)
    b = build_broadcast(
        codes,
        args.text,
        priority=args.priority,
        hazard=Hazard(args.hazard),
        expires_min=args.expires_min,
        operator=args.operator or _login(),
        now=datetime.now(UTC),
        exercise=args.exercise,
    )
    result: dict[str, Any] = {
        "warning_id": b.warning_id,
        "identifier": b.identifier,
        "sender": b.sender,
        "topic": topics.feed_topic(SOURCE),
        "severity": b.severity.value,
        "priority": b.priority,
        "expires": b.expires.isoformat(),
    }
    if not args.no_check:
        # A mistyped code would resolve to no village and the broadcast would silently reach no one:
        # refuse before sending, while the dispatcher is still at the keyboard.
        reach = await expected_reach(settings, codes)
        empty = [c for c, v in reach.items() if not v]
        if empty:
            raise BroadcastError(f"no village of the directory under {empty}; nothing was sent")
        villages = sorted({v for vs in reach.values() for v in vs})
        result["villages_expected"] = len(villages)
        result["terminals_expected"] = await count_terminals(settings, villages)
    await send(settings, b)
    return result


def run(args: argparse.Namespace, settings: Settings) -> int:
    from aiokafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = asyncio.run(broadcast(args, settings))
    except BroadcastError as e:
        print(f"warnengine broadcast: {e}", file=sys.stderr)
        return 2
    except SQLAlchemyError as e:
        print(
            f"warnengine broadcast: directory check failed, nothing sent (--no-check skips it): {e!r}",
            file=sys.stderr,
        )
        return 1
    except (KafkaError, TimeoutError, OSError) as e:  # before RuntimeError: KafkaError is one
        # Broker unreachable or slow. After a timeout it is unknown whether the broker has it: say so.
        print(f"warnengine broadcast: not confirmed by the broker: {e!r}", file=sys.stderr)
        return 1
    except RuntimeError as e:  # no Kafka URL: nothing was tried
        print(f"warnengine broadcast: not sent: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0
