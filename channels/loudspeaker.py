"""Village loudspeakers (村村响) over MQTT, per the contract in design.md.

Topics: warn/v1/<county>/<township>/<village>/<device>/cmd (commands, QoS 1, MQTT 5 expiry),
.../ack (terminal acks), .../status (retained health). Codes are 12-digit administrative codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence

from pydantic import ValidationError

from channels.base import Outgoing, SendResult
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel, SpeakerAck
from warnengine.transport.mqtt import AsyncMqtt, Message, MqttError

PREFIX = "warn/v1"


def device_topic(village_code: str, device_id: str, leaf: str) -> str:
    county = village_code[:6] + "000000"
    township = village_code[:9] + "000"
    return f"{PREFIX}/{county}/{township}/{village_code}/{device_id}/{leaf}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """(village_code, device_id, leaf) of a contract topic, or None."""
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != PREFIX:
        return None
    return parts[4], parts[5], parts[6]


class BadAck(Exception):
    def __init__(self, topic: str, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} on {topic}")
        self.topic, self.reason, self.payload = topic, reason, payload


AckHandler = Callable[[list[SpeakerAck]], Awaitable[None]]
BadAckHandler = Callable[[BadAck], Awaitable[None]]


class LoudspeakerChannel:
    kind = Channel.LOUDSPEAKER
    name = "mqtt-loudspeaker"
    batch_size = 500
    rate_per_s: float | None = None  # the broker, not a provider, is the limit

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        protocol: int = 5,
        clock: Clock | None = None,
        publish_timeout_s: float = 10.0,
    ) -> None:
        self._mqtt = AsyncMqtt(host, port, client_id, protocol=protocol)
        self._timeout = publish_timeout_s
        self._clock = clock or SystemClock()

    async def start(self) -> None:
        await self._mqtt.connect()

    async def stop(self) -> None:
        await self._mqtt.disconnect()

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Publish every command at QoS 1 (MQTT 5 expiry = time left) and wait for the broker's PUBACKs."""
        now = self._clock.now()
        futs = []
        for o in batch:
            ttl = max(1, int(o.expires_at - now))
            payload = json.dumps(o.body, ensure_ascii=False, separators=(",", ":")).encode()
            futs.append(
                self._mqtt.publish_nowait(
                    device_topic(o.village_code, o.recipient, "cmd"), payload, 1, expiry_s=ttl
                )
            )
        results: list[SendResult] = []
        done = (
            await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), self._timeout)
            if futs
            else []
        )
        for o, r in zip(batch, done, strict=True):
            if isinstance(r, BaseException):
                results.append(SendResult(o.delivery_id, ok=False, retryable=True, reason=str(r)))
            else:
                results.append(SendResult(o.delivery_id, ok=True))
        return results


class LoudspeakerAckListener:
    """Subscribes to every terminal's ack topic and hands acks on in batches.

    MQTT messages are confirmed (manual ack) only after the handler returned, so an ack is never lost
    between the broker and Kafka. With MQTT 5 a shared subscription splits acks between workers.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        county_code: str,
        *,
        protocol: int = 5,
        shared_group: str | None = "warnengine",
        batch_window_s: float = 0.05,
        batch_max: int = 1000,
    ) -> None:
        self._mqtt = AsyncMqtt(host, port, client_id, protocol=protocol, persistent=True, manual_ack=True)
        topic = f"{PREFIX}/{county_code}/+/+/+/ack"
        self.topic = f"$share/{shared_group}/{topic}" if (shared_group and protocol == 5) else topic
        self._window = batch_window_s
        self._max = batch_max

    async def run(self, on_acks: AckHandler, on_bad: BadAckHandler) -> None:
        await self._mqtt.connect()
        await self._mqtt.subscribe(self.topic, 1)
        try:
            while True:
                msgs = await self._collect()
                good: list[SpeakerAck] = []
                for m in msgs:
                    try:
                        good.append(parse_ack(m))
                    except BadAck as bad:
                        await on_bad(bad)
                if good:
                    await on_acks(good)
                for m in msgs:
                    self._mqtt.ack(m)
        finally:
            with contextlib.suppress(MqttError):
                await self._mqtt.disconnect()

    async def _collect(self) -> list[Message]:
        """The next batch: the first message, then whatever arrives within the window (up to the max).
        Drained in slices rather than one `wait_for` per message: a fan-out brings thousands of acks."""
        queue = self._mqtt.messages
        msgs = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._window
        while len(msgs) < self._max:
            while len(msgs) < self._max and not queue.empty():
                msgs.append(queue.get_nowait())
            left = deadline - loop.time()
            if left <= 0 or len(msgs) >= self._max:
                break
            await asyncio.sleep(min(left, _SLICE_S))
        return msgs


_SLICE_S = 0.005


def parse_ack(m: Message) -> SpeakerAck:
    where = parse_topic(m.topic)
    if where is None:
        raise BadAck(m.topic, "bad_topic", m.payload)
    try:
        data = json.loads(m.payload)
    except ValueError as e:
        raise BadAck(m.topic, "ack_not_json", m.payload) from e
    if not isinstance(data, dict):
        raise BadAck(m.topic, "ack_not_object", m.payload)
    try:
        return SpeakerAck.model_validate({**data, "device_id": where[1]})
    except ValidationError as e:
        raise BadAck(m.topic, "ack_invalid", m.payload) from e
