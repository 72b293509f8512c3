"""Issue 22: big feed messages under the feed limit are dead-lettered once each, with a small record on
the dead-letter topic, and the good warning behind them still plays (real Tansu, SQLite)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from tests.integration.conftest import running_stack
from tests.integration.test_pipeline import json_warning
from warnengine.directory import County
from warnengine.model.warning import chain_id
from warnengine.wire import records, topics

MB = 1024 * 1024


async def test_big_feed_messages_are_dead_lettered_once_and_the_line_keeps_flowing(
    tmp_path: Path, small_county_dir: Path, small_county: County
) -> None:
    async with running_stack(tmp_path / "var", small_county_dir) as h:
        await h.start_farm()
        await h.start_worker()
        producer = AIOKafkaProducer(
            bootstrap_servers=h.settings.kafka_bootstrap(),
            max_request_size=h.settings.kafka_max_message_bytes,
        )
        await producer.start()
        try:
            big = [b"<alert>" + b"x" * (MB - 7), b"{" + b"y" * (4 * MB - 1024)]
            for payload in big:
                await producer.send_and_wait(topics.feed_topic("meteo"), payload)
            # a record over the producer's limit fails client-side; the producer still works after it
            with pytest.raises(MessageSizeTooLargeError):
                await producer.send_and_wait(topics.feed_topic("meteo"), b"z" * (6 * MB))
            identifier = f"B-{time.time_ns()}"
            village = next(c for c in small_county.cells if c.level == "village")
            await producer.send_and_wait(topics.feed_topic("flood"), json_warning(identifier, [village.code]))
        finally:
            await producer.stop()
        warning_id = chain_id("flood.example.cn", identifier)

        async def good_one_played() -> bool:
            rows = await h.deliveries(warning_id)
            return bool(rows) and all(r["state"] == "played" for r in rows)

        await h.wait_for(good_one_played, 90, "the good warning behind two big ones")
        letters = await h.store.dead_letters()
        assert sorted(len(r["payload"]) for r in letters) == sorted(len(p) for p in big)  # one row each

        consumer = AIOKafkaConsumer(
            topics.DEAD_LETTER,
            bootstrap_servers=h.settings.kafka_bootstrap(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            while len(got) < len(big):
                batch = await consumer.getmany(timeout_ms=5000)
                assert batch, f"only {len(got)} dead-letter records on the topic"
                got.extend(m.value or b"" for msgs in batch.values() for m in msgs)
        finally:
            await consumer.stop()
        assert len(got) == len(big)
        assert all(len(v) < 16 * 1024 for v in got)
        sent = [records.DeadLetter.model_validate(json.loads(v)) for v in got]
        assert sorted(d.payload_bytes or 0 for d in sent) == sorted(len(p) for p in big)
        assert all(d.truncated and d.row is not None and d.payload_sha256 for d in sent)
