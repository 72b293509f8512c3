"""Every Kafka topic and its key; each topic's record type and codec is in `warnengine/wire/records.py`.

Keys keep all events of one warning-and-village on one partition: `<warning_id>:<village_code>`.
Records are JSON (pydantic), so non-Python producers and consumers can join the pipeline.
"""

from __future__ import annotations

PREFIX = "warnengine"
MANUAL = "manual"  # the feed of warnings a person issues (console releases, `warnengine broadcast`)
FEED_SOURCES = ("meteo", "flood", "forest_fire", "geohazard", "earthquake", MANUAL)
WARNINGS = f"{PREFIX}.warnings"  # key: warning_id; value: model.HazardWarning
VILLAGE_TASKS = f"{PREFIX}.village-tasks"  # key: warning_id:village; value: VillageTask
ACKS = f"{PREFIX}.acks"  # key: none; value: AckBatch
DEAD_LETTER = f"{PREFIX}.dead-letter"  # key: stage; value: DeadLetter
ACKS_APP = f"{PREFIX}.acks.app"  # key: warning_id or delivery_id; value: AppAck
CHANNEL_EVENTS = f"{PREFIX}.channel-events"  # key: none; value: a JSON list of ChannelEvent


def feed_topic(source: str) -> str:
    """Raw upstream messages (CAP 1.2 XML, the national dialect, or JSON), one topic per feed."""
    return f"{PREFIX}.feed.{source}"


def source_of(topic: str) -> str:
    return topic.removeprefix(f"{PREFIX}.feed.")


def village_key(warning_id: str, village_code: str) -> bytes:
    return f"{warning_id}:{village_code}".encode()
