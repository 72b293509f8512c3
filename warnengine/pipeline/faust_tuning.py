"""Faust settings its configuration does not expose.

Faust creates its worker consumer with fetch_max_wait_ms=1500, hard-coded. Apache Kafka answers a long
poll as soon as data arrives, but the embedded Tansu broker answers only when the wait ends, so every
pipeline hop cost ~0.75 s on average (measured: raw produce→consume round trip 0.70 s at 1500 ms,
5 ms at 20 ms). We set the wait on the consumer after Faust builds it and before it starts.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

_original = driver.AIOKafkaConsumerThread._create_worker_consumer
_wait_ms: int | None = None


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _original(self, transport)
    if _wait_ms is not None:
        consumer._fetch_max_wait_ms = _wait_ms  # read by AIOKafkaConsumer.start() when it builds its fetcher
    return consumer


def set_fetch_max_wait(ms: int) -> None:
    global _wait_ms
    _wait_ms = ms
    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
