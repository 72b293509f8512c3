"""Village loudspeakers (村村响) over MQTT: the channel adapter that publishes signed commands.

The wire contract (topics, acks) is `warnengine/wire/loudspeaker.py`; the engine's ack listener is
`warnengine/devices/acks.py`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from channels.base import GroupOutgoing, Outgoing, SendResult
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel
from warnengine.transport.mqtt import AsyncMqtt, MqttSecurity
from warnengine.wire.loudspeaker import device_topic, group_topic


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
        security: MqttSecurity | None = None,  # default: no TLS, no login (Settings.mqtt_security())
    ) -> None:
        self._mqtt = AsyncMqtt(host, port, client_id, protocol=protocol, security=security)
        self._timeout = publish_timeout_s
        self._clock = clock or SystemClock()

    @property
    def connected(self) -> bool:
        return self._mqtt.connected

    async def start(self) -> None:
        await self._mqtt.connect()

    async def stop(self) -> None:
        await self._mqtt.disconnect()

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Publish every command at QoS 1 (MQTT 5 expiry = time left) and wait for the broker's PUBACKs."""
        done = await self._publish(
            [(device_topic(o.village_code, o.recipient, "cmd"), o.body, o.expires_at) for o in batch]
        )
        results: list[SendResult] = []
        for o, r in zip(batch, done, strict=True):
            if isinstance(r, BaseException):
                results.append(SendResult(o.delivery_id, ok=False, retryable=True, reason=str(r)))
            else:
                results.append(SendResult(o.delivery_id, ok=True))
        return results

    async def send_groups(self, batch: Sequence[GroupOutgoing]) -> list[str | None]:
        """Publish each group command on its cell's group topic (QoS 1, MQTT 5 expiry), wait for PUBACKs."""
        done = await self._publish([(group_topic(g.cell), g.body, g.expires_at) for g in batch])
        return [str(r) or type(r).__name__ if isinstance(r, BaseException) else None for r in done]

    async def _publish(self, items: list[tuple[str, dict[str, object], float]]) -> list[object]:
        now = self._clock.now()
        futs = []
        for topic, body, expires_at in items:
            ttl = max(1, int(expires_at - now))
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            futs.append(self._mqtt.publish_nowait(topic, payload, 1, expiry_s=ttl))
        if not futs:
            return []
        return list(await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), self._timeout))
