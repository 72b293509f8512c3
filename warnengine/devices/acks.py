"""The engine's side of terminal acks: every terminal's ack topic, read in batches for the acks topic."""

from __future__ import annotations

import asyncio
import contextlib

from warnengine.model import SpeakerAck
from warnengine.transport.mqtt import AsyncMqtt, Message, MqttError, MqttSecurity
from warnengine.wire.loudspeaker import PREFIX, AckHandler, BadAck, BadAckHandler, parse_ack


class LoudspeakerAckListener:
    """Subscribes to every terminal's ack topic and hands acks on in batches.

    MQTT messages are confirmed (manual ack) only after the handler returned, so an ack is never lost
    between the broker and Kafka. With shared subscriptions on (off by default), MQTT 5 splits acks
    between workers.
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
        security: MqttSecurity | None = None,  # default: no TLS, no login (Settings.mqtt_security())
    ) -> None:
        self._mqtt = AsyncMqtt(
            host, port, client_id, protocol=protocol, persistent=True, manual_ack=True, security=security
        )
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
