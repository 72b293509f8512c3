"""The worker's Kafka side in one object: its topics, and the emit and dead-letter functions that its
agents, its timers and the simulator share (methods, so a caller never digs them out of the app)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import faust

from warnengine.model import HazardWarning, SpeakerAck
from warnengine.pipeline.guard import DeadLetterFn, best_effort_send, guarded
from warnengine.pipeline.resources import Resources
from warnengine.settings import Settings
from warnengine.wire import records, topics

T = TypeVar("T")


class Pipeline:
    def __init__(self, settings: Settings, app: faust.App, rt: Resources) -> None:
        self.settings, self.app, self.rt = settings, app, rt
        self.feeds = self.topic(*(topics.feed_topic(s) for s in topics.FEED_SOURCES))
        self.warnings = self.topic(topics.WARNINGS)
        self.village_tasks = self.topic(topics.VILLAGE_TASKS)
        self.acks = self.topic(topics.ACKS)
        self.channel_events = self.topic(topics.CHANNEL_EVENTS)
        self.app_acks = self.topic(topics.ACKS_APP)
        self.dead = self.topic(topics.DEAD_LETTER)

    def topic(self, *names: str) -> faust.TopicT:
        return self.app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    async def dead_letter(
        self, stage: str, reason: str, detail: str, payload: bytes, source: str | None, key: str | None
    ) -> None:
        """The database row is the record (idempotent, the full payload); the topic tells whoever watches
        it, with a bounded excerpt and the row's id. Only the row's write raises: the topic send is
        best-effort once the row exists, so a send that cannot succeed never holds up the line."""
        row = await self.rt.store.dead_letter(stage, reason, detail, payload, source, key)
        excerpt, truncated = records.DeadLetter.excerpt(payload)
        record = records.DeadLetter(
            stage=stage,
            reason=reason,
            detail=detail,
            source=source,
            key=key,
            payload=excerpt,
            truncated=truncated,
            payload_bytes=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            row=row,
            at=self.rt.clock.now(),
        )
        await best_effort_send(
            self.dead, topics.DEAD_LETTER, stage.encode(), record.model_dump_json().encode()
        )

    def dead_letter_each(self, raws: list[bytes]) -> DeadLetterFn:
        """A batch's failure dead-letters every record it was made of."""

        async def fn(
            stage: str, reason: str, detail: str, _p: bytes, source: str | None, key: str | None
        ) -> None:
            for raw in raws:
                await self.dead_letter(stage, reason, detail, raw, source, key)

        return fn

    async def emit_warning(self, w: HazardWarning) -> None:
        await self.warnings.send(key=w.warning_id.encode(), value=w.model_dump_json().encode())

    async def emit_village(self, warning_id: str, version: int, village: str) -> None:
        task = records.VillageTask(warning_id=warning_id, version=version, village_code=village)
        await self.village_tasks.send(
            key=topics.village_key(warning_id, village), value=task.model_dump_json().encode()
        )

    async def emit_villages(self, warning_id: str, version: int, villages: Sequence[str]) -> None:
        """All of a warning's village tasks handed to the producer at once, not one awaited send after
        another: awaiting each let the dispatch agent run between sends, so a county's 800 tasks trickled
        out over half a second and the dispatch took them in small batches."""
        await asyncio.gather(*(self.emit_village(warning_id, version, v) for v in villages))

    async def publish_acks(self, acks: list[SpeakerAck]) -> None:
        """Terminal acks onto the acks topic, confirmed by the broker before this returns."""
        fut = await self.acks.send(value=records.AckBatch(acks=acks).model_dump_json().encode())
        await fut

    async def parse_each(
        self,
        stage: str,
        events: Sequence[faust.types.EventT[bytes]],
        parse: Callable[[bytes], Awaitable[list[T]]],
    ) -> tuple[list[T], list[bytes]]:
        """Parse a batch event by event, so one bad record is dead-lettered alone: the items of the good
        records, and those records (to dead-letter together if the batch's work fails)."""
        items: list[T] = []
        raws: list[bytes] = []
        for ev in events:
            raw = ev.value

            async def work(raw: bytes = raw) -> None:
                items.extend(await parse(raw))
                raws.append(raw)

            await guarded(stage, work, raw, key_text(ev.key), None, self.dead_letter)
        return items, raws


def key_text(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None
