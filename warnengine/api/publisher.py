"""The Kafka producer behind releases and app acks: started on first use, acks=all, bounded waits."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from warnengine.settings import Settings


class KafkaPublisher:
    def __init__(self, settings: Settings, timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                # Started lazily: the API serves look-ups and the console while the broker is still coming
                # up; only a release needs it, and a release then fails with 503 rather than the whole API.
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap(),
                    acks="all",
                    request_timeout_ms=int(self.timeout_s * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), self.timeout_s)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        producer = await self._started()
        await asyncio.wait_for(producer.send_and_wait(topic, value, key=key), self.timeout_s)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
