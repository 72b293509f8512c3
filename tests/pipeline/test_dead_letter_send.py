"""Issue 22: a dead letter's send never holds up the line, its row is written once, its record is small."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable

import pytest
from aiokafka.errors import MessageSizeTooLargeError, RequestTimedOutError
from prometheus_client import REGISTRY

from warnengine.db.store import Store
from warnengine.pipeline.guard import best_effort_send, guarded
from warnengine.pipeline.limits import LimitsError, check_kafka_limits
from warnengine.settings import Settings
from warnengine.wire import records


class _Topic:
    """A topic whose sends fail with aiokafka's own errors, as its producer raises them."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[bytes] = []

    async def send(self, *, key: bytes | None, value: bytes) -> Awaitable[object]:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(value)

        async def done() -> object:
            return None

        return done()


def _failures(topic: str, reason: str) -> float:
    v = REGISTRY.get_sample_value("warnengine_produce_failures_total", {"topic": topic, "reason": reason})
    return v or 0.0


async def test_a_record_too_large_is_final_at_once_and_counted() -> None:
    topic = _Topic(MessageSizeTooLargeError("too big"), MessageSizeTooLargeError("too big"))
    before = _failures("t-big", "MessageSizeTooLargeError")
    assert await best_effort_send(topic, "t-big", b"k", b"v") is False
    assert len(topic.errors) == 1  # tried once
    assert _failures("t-big", "MessageSizeTooLargeError") == before + 1


async def test_a_transient_error_is_retried_a_few_times() -> None:
    topic = _Topic(RequestTimedOutError(), RequestTimedOutError())
    assert await best_effort_send(topic, "t-slow", b"k", b"v") is True
    assert topic.sent == [b"v"]
    forever = _Topic(*(RequestTimedOutError() for _ in range(10)))
    assert await best_effort_send(forever, "t-slow", b"k", b"v") is False
    assert len(forever.errors) == 10 - 3  # bounded


async def test_guard_with_an_unsendable_dead_letter_writes_one_row_and_returns(store: Store) -> None:
    topic = _Topic(*(MessageSizeTooLargeError() for _ in range(50)))
    payload = b"<alert>" + b"x" * 1_000_000

    async def dead_letter(
        stage: str, reason: str, detail: str, p: bytes, source: str | None, key: str | None
    ) -> None:
        await store.dead_letter(stage, reason, detail, p, source, key)
        await best_effort_send(topic, "dead", stage.encode(), p)

    async def work() -> None:
        raise RuntimeError("boom")

    assert await guarded("normalise", work, payload, "k", "meteo", dead_letter, attempts=1) is False
    assert len(topic.errors) == 49  # one send, not retried forever
    rows = await store.dead_letters()
    assert len(rows) == 1 and len(rows[0]["payload"]) == len(payload)


async def test_the_same_dead_letter_is_one_row(store: Store) -> None:
    ids = [await store.dead_letter("normalise", "bad_json", "d", b"junk", "meteo", None) for _ in range(39)]
    assert len(set(ids)) == 1
    other = await store.dead_letter("normalise", "bad_json", "d", b"other junk", "meteo", None)
    assert other != ids[0]
    assert len(await store.dead_letters()) == 2


def test_the_dead_letter_record_carries_a_bounded_utf8_excerpt() -> None:
    payload = "预警".encode() * 400_000  # 2.4 MB of three-byte characters
    excerpt, truncated = records.DeadLetter.excerpt(payload)
    assert truncated and len(excerpt.encode()) <= records.DeadLetter.EXCERPT_BYTES
    assert payload.startswith(excerpt.encode()) and "\ufffd" not in excerpt
    record = records.DeadLetter(
        stage="normalise",
        reason="too_large",
        detail="",
        payload=excerpt,
        truncated=truncated,
        payload_bytes=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        row=7,
        at=0.0,
    )
    assert len(record.model_dump_json()) < 16_384
    old = records.DeadLetter.model_validate(
        json.loads('{"stage":"s","reason":"r","detail":"d","payload":"p","at":1}')
    )
    assert old.payload == "p" and old.row is None
    assert records.DeadLetter.excerpt(b"short") == ("short", False)


def test_inconsistent_kafka_limits_refuse_to_start() -> None:
    check_kafka_limits(Settings())
    with pytest.raises(LimitsError, match=r"kafka_max_message_bytes=1000000 .*max_feed_bytes=4194304"):
        check_kafka_limits(Settings(kafka_max_message_bytes=1_000_000))
    check_kafka_limits(Settings(max_feed_bytes=512 * 1024, kafka_max_message_bytes=1_000_000))
