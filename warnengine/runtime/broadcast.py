"""`warnengine broadcast`: a dispatcher's manual broadcast to the loudspeakers of some areas.

There is deliberately no second path to the terminals. The broadcast becomes a generic-JSON warning
(docs/feeds.md) on the `warnengine.feed.manual` topic, so the normal pipeline records it, resolves the
codes to villages, signs one command per terminal, re-sends until played or expired and collects the
acks, exactly as for a warning from a feed. What reaches a loudspeaker is therefore always in the
record, always signed by the engine's key, and a Cancel of the chain stops it like any warning.

Priority → severity (the inverse of `warnengine.dispatch.compose.PRIORITY`, so the command carries the
priority the dispatcher asked for):

    priority   severity   repeat   volume
    9          red        3        100
    7          orange     3        85
    5          yellow     2        85
    3          blue       2        85

Other priorities are refused: routine broadcasting (1) and tests (0) are not warnings, and the pipeline
only knows warning colours. The default is 7: it interrupts blue and yellow warnings and routine
playback, but never a red warning being played (equal or lower priority never interrupts); a dispatcher
who means red says `--priority 9`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from warnengine import topics
from warnengine.dispatch.compose import PRIORITY
from warnengine.model import Hazard, Severity
from warnengine.model.warning import chain_id
from warnengine.resolve.index import code_prefix
from warnengine.settings import Settings

SEVERITY_BY_PRIORITY: dict[int, Severity] = {p: s for s, p in PRIORITY.items()}
DEFAULT_PRIORITY = 7
DEFAULT_EXPIRES_MIN = 60.0
MAX_EXPIRES_MIN = 24 * 60.0  # a manual broadcast re-sent a day later would surprise everyone
SOURCE = "manual"
EVENT = "人工广播"  # "manual broadcast"; the loudspeaker reads the headline, so this is not spoken
# A sender ends up in "sender,identifier,sent" reference triples: no commas, spaces or control characters.
_OPERATOR = re.compile(r"^[\w.@-]{1,64}$")


class BroadcastError(ValueError):
    """Bad arguments: nothing was sent."""


@dataclass(frozen=True)
class Broadcast:
    sender: str
    identifier: str
    warning_id: str
    severity: Severity
    priority: int
    expires: datetime
    codes: list[str]
    payload: bytes  # the generic-JSON warning put on the feed topic


def parse_codes(raw: str) -> list[str]:
    """ "C1,C2" → unique administrative codes in the order given; any malformed code is an error."""
    codes = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    if not codes:
        raise BroadcastError("--codes names no area code")
    bad = [c for c in codes if code_prefix(c) is None]
    if bad:
        raise BroadcastError(f"not an administrative code (12 or 14 digits, or 6 for a county): {bad}")
    return codes


def build_broadcast(
    codes: list[str],
    text: str,
    *,
    priority: int = DEFAULT_PRIORITY,
    hazard: Hazard = Hazard.OTHER,
    expires_min: float = DEFAULT_EXPIRES_MIN,
    operator: str,
    now: datetime,
    exercise: bool = False,
) -> Broadcast:
    """The generic-JSON warning for one manual broadcast. Pure: the caller sends it."""
    text = text.strip()
    if not text:
        raise BroadcastError("--text is empty")
    severity = SEVERITY_BY_PRIORITY.get(priority)
    if severity is None:
        raise BroadcastError(f"--priority must be one of {sorted(SEVERITY_BY_PRIORITY)}, not {priority}")
    if not 0 < expires_min <= MAX_EXPIRES_MIN:
        raise BroadcastError(f"--expires-min must be in (0, {MAX_EXPIRES_MIN:g}], not {expires_min:g}")
    if not _OPERATOR.match(operator):
        raise BroadcastError(f"--operator {operator!r}: letters, digits, '.', '_', '-', '@' only")
    sender = f"dispatcher:{operator}"
    # Unique per sender without coordination: time for people reading the record, randomness for two
    # dispatchers (or one quick double-press) in the same second.
    identifier = f"manual-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    expires = now + timedelta(minutes=expires_min)
    doc: dict[str, Any] = {
        "sender": sender,
        "identifier": identifier,
        "sent": now.isoformat(),
        "msg_type": "Alert",
        "status": "Exercise" if exercise else "Actual",
        "hazard": hazard.value,
        "severity": severity.value,
        "event": EVENT,
        # Headline only: the loudspeaker reads headline + description + instruction, so putting the text
        # in both would speak it twice.
        "headline": text,
        "expires": expires.isoformat(),
        "areas": [{"description": EVENT, "codes": codes}],
    }
    return Broadcast(
        sender=sender,
        identifier=identifier,
        warning_id=chain_id(sender, identifier),
        severity=severity,
        priority=priority,
        expires=expires,
        codes=codes,
        payload=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
    )


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
