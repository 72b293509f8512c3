"""Issue 22: a record over the producer's request limit fails alone; the shared Faust producer still
sends the next record (real Tansu, real Faust producer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import faust
import pytest

from warnengine.embedded.brokers import EmbeddedBrokers
from warnengine.pipeline.guard import best_effort_send


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[str]:
    b = EmbeddedBrokers(tmp_path, with_mqtt=False)
    b.start()
    try:
        yield b.kafka_url
    finally:
        b.stop()


async def test_an_oversized_send_does_not_poison_the_producer(kafka: str, tmp_path: Path) -> None:
    app = faust.App(
        "t-oversize",
        broker=kafka,
        store="memory://",
        datadir=str(tmp_path / "f"),
        producer_max_request_size=100_000,
    )
    topic = app.topic(
        "t-oversize", key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    await app.producer.start()
    try:
        assert await best_effort_send(topic, "t-oversize", b"k", b"x" * 200_000) is False
        for i in range(3):
            assert await best_effort_send(topic, "t-oversize", b"k", b"ok %d" % i) is True
    finally:
        await app.producer.stop()
