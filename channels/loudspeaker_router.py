"""Loudspeaker deliveries by the provider of their terminal (devices.csv `provider`): warnengine's MQTT
contract (channels/loudspeaker.py), or the county's EB platform (channels/eb_platform.py).

It is not itself a group channel: a group topic reaches MQTT terminals only. The group stage
(warnengine/dispatch/groups.py) publishes group commands through `group_channel` (the MQTT channel) for
cells none of whose terminals is in `eb_devices`; a village with an EB terminal, and the township and
county above it, go per terminal through `send_batch` (one publish burst per batch on MQTT, one EBM per
warning version on the platform).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from channels.base import ChannelAdapter, GroupChannel, Outgoing, SendResult
from channels.eb_platform import EbPlatformChannel
from warnengine.model import Channel


class LoudspeakerRouter:
    kind = Channel.LOUDSPEAKER
    name = "mqtt+eb"
    rate_per_s: float | None = None

    def __init__(self, mqtt: ChannelAdapter, eb: EbPlatformChannel, eb_devices: Collection[str]) -> None:
        self.mqtt, self.eb = mqtt, eb
        self.batch_size = max(mqtt.batch_size, eb.batch_size)
        self.eb_devices = frozenset(eb_devices)

    def set_eb_devices(self, eb_devices: Collection[str]) -> None:
        """After a directory import: which terminals the platform reaches now."""
        self.eb_devices = frozenset(eb_devices)

    @property
    def group_channel(self) -> GroupChannel | None:
        """Where group commands go (MQTT terminals only), or None when the MQTT channel has none."""
        return self.mqtt if isinstance(self.mqtt, GroupChannel) else None

    @property
    def connected(self) -> bool:
        """The MQTT link (the worker's /ready); the platform's is `eb.connected`, kept by its heartbeat."""
        return bool(getattr(self.mqtt, "connected", True))

    async def start(self) -> None:
        await self.mqtt.start()
        await self.eb.start()

    async def stop(self) -> None:
        await self.eb.stop()
        await self.mqtt.stop()

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Each provider its part of the batch, both at once; one result per input, in order."""
        eb = [o for o in batch if o.recipient in self.eb_devices]
        mqtt = [o for o in batch if o.recipient not in self.eb_devices]
        done = await asyncio.gather(
            self.mqtt.send_batch(mqtt) if mqtt else _none(), self.eb.send_batch(eb) if eb else _none()
        )
        by_id = {r.delivery_id: r for results in done for r in results}
        return [by_id[o.delivery_id] for o in batch]


async def _none() -> list[SendResult]:
    return []
