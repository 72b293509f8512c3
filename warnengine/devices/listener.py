"""Terminal status from MQTT into the health stage, and the offline sweep beside it.

Messages are confirmed (manual ack) only after the database has them; a failed write is retried, never
dropped. A plain subscription receives every terminal's retained status at start-up; a shared one
(several workers) does not, and catches up as heartbeats arrive.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from warnengine.devices.health import DeviceHealth
from warnengine.transport.mqtt import AsyncMqtt, Message, MqttError, MqttSecurity
from warnengine.wire.loudspeaker import PREFIX

log = structlog.get_logger("warnengine.devices")


class DeviceReportListener:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        county_code: str = "+",
        *,
        protocol: int = 5,
        shared_group: str | None = None,
        batch_window_s: float = 0.1,
        batch_max: int = 2000,
        security: MqttSecurity | None = None,  # default: no TLS, no login (Settings.mqtt_security())
    ) -> None:
        self._mqtt = AsyncMqtt(
            host, port, client_id, protocol=protocol, persistent=True, manual_ack=True, security=security
        )
        share = f"$share/{shared_group}/" if (shared_group and protocol == 5) else ""
        # Status only: acks reach the registry through the ack stage (one ingestion path for acks; a
        # second subscription to every ack cost a quarter of a worker's CPU in a county-wide fan-out).
        self.topics = [f"{share}{PREFIX}/{county_code}/+/+/+/status"]
        self._window = batch_window_s
        self._max = batch_max

    async def run(self, health: DeviceHealth, sweep_interval_s: float) -> None:
        await self._mqtt.connect()
        for topic in self.topics:
            await self._mqtt.subscribe(topic, 1)
        sweeper = asyncio.create_task(_sweep_forever(health, sweep_interval_s))
        try:
            while True:
                msgs = await self._batch()
                await _apply_until_stored(health, msgs)
                for m in msgs:
                    self._mqtt.ack(m)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            with contextlib.suppress(MqttError):
                await self._mqtt.disconnect()

    async def _batch(self) -> list[Message]:
        msgs = [await self._mqtt.messages.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._window
        while len(msgs) < self._max and (left := deadline - loop.time()) > 0:
            try:
                msgs.append(await asyncio.wait_for(self._mqtt.messages.get(), left))
            except TimeoutError:
                break
        return msgs


async def _apply_until_stored(health: DeviceHealth, msgs: list[Message]) -> None:
    delay = 0.5
    while True:
        try:
            await health.apply(msgs)
            return
        except Exception as e:  # the database is away: keep the batch (unconfirmed) and try again
            log.error("device_reports_failed", error=repr(e), messages=len(msgs), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _sweep_forever(health: DeviceHealth, interval_s: float) -> None:
    while True:
        try:
            await health.sweep()
        except Exception as e:  # one failed sweep must not stop the next
            log.error("device_sweep_failed", error=repr(e))
        await asyncio.sleep(interval_s)
