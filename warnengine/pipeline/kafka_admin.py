"""Create the pipeline's topics up front, so an early producer never auto-creates one with 1 partition.

`ensure_topics`: the embedded default (`warnengine up`), replication 1. `provision_topics`: production
(`warnengine init`), with a replication factor checked against the cluster and a report of topics that
exist with fewer partitions or replicas than asked for (never changed here: adding partitions moves
villages between partitions, an operator's decision)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from warnengine.wire import topics

TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS: another init created it meanwhile


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


async def connect_admin(bootstrap: str, timeout: float = 30.0) -> AIOKafkaAdminClient:
    """A started admin client; retried until `timeout`, then the last error is raised."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            return admin
        except Exception:
            with contextlib.suppress(Exception):
                await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def ensure_topics(bootstrap: str, partitions: int, timeout: float = 30.0) -> None:
    admin = await connect_admin(bootstrap, timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in all_topics() if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


@dataclass
class TopicReport:
    brokers: int
    replication: int
    partitions: int
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)  # topic -> its partitions, fewer than configured
    under_replicated: dict[str, int] = field(default_factory=dict)  # topic -> its replicas, fewer than asked


async def broker_count(admin: AIOKafkaAdminClient) -> int:
    return len((await admin.describe_cluster())["brokers"])


def replication_for(brokers: int, wanted: int | None) -> int:
    """The replication factor: `wanted`, default min(3, brokers); ValueError when the cluster is too small."""
    rf = wanted if wanted is not None else min(3, brokers)
    if rf < 1:
        raise ValueError("the replication factor must be at least 1")
    if rf > brokers:
        raise ValueError(
            f"复制因子 {rf} 需要至少 {rf} 个 broker，集群只有 {brokers} 个 / replication factor {rf} needs "
            f"{rf} brokers, the cluster has {brokers}: add brokers or pass --replication-factor {brokers}"
        )
    return rf


async def provision_topics(
    admin: AIOKafkaAdminClient, partitions: int, replication: int, brokers: int
) -> TopicReport:
    """Creates the missing topics; reports those that exist with fewer partitions or replicas."""
    report = TopicReport(brokers, replication, partitions)
    existing = set(await admin.list_topics())
    wanted = all_topics()
    missing = [t for t in wanted if t not in existing]
    if missing:
        resp = await admin.create_topics([NewTopic(t, partitions, replication) for t in missing])
        for topic, code, message in resp.topic_errors:
            if code == 0:
                report.created.append(topic)
            elif code == TOPIC_EXISTS:
                existing.add(topic)
            else:
                raise RuntimeError(f"creating topic {topic}: error {code} {message or ''}".strip())
    report.present = [t for t in wanted if t in existing]
    if report.present:
        for d in await admin.describe_topics(report.present):
            parts = d["partitions"]
            if len(parts) < partitions:
                report.short[d["topic"]] = len(parts)
            replicas = min((len(p["replicas"]) for p in parts), default=0)
            if replicas < replication:
                report.under_replicated[d["topic"]] = replicas
    return report
