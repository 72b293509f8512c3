"""Create the pipeline's topics up front, so an early producer never auto-creates one with 1 partition."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from warnengine.wire import topics


def all_topics() -> list[str]:
    return [
        *(topics.feed_topic(s) for s in topics.FEED_SOURCES),
        topics.WARNINGS,
        topics.VILLAGE_TASKS,
        topics.ACKS,
        topics.ACKS_APP,
        topics.CHANNEL_EVENTS,
        topics.DEAD_LETTER,
    ]


async def ensure_topics(bootstrap: str, partitions: int, timeout: float = 30.0) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in all_topics() if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
