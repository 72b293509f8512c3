"""Running the simulated terminal farm against a stack's MQTT broker."""

from __future__ import annotations

from collections.abc import Iterable

from warnengine.clock import Clock
from warnengine.runtime.resources import client_id
from warnengine.settings import Settings
from warnengine.signing import Verifier, load_public_keys, public_path
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import AsyncMqtt


async def start_farm(
    settings: Settings,
    devices: Iterable[tuple[str, str]],
    clock: Clock,
    play_seconds: float = 0.0,
    offline: Iterable[str] = (),
) -> TerminalFarm:
    """Connects and returns the farm; the caller runs `farm.run()` as a task."""
    host, port = settings.mqtt_host_port()
    verifier = Verifier(load_public_keys([public_path(settings.key_file())]))
    mqtt = AsyncMqtt(host, port, client_id("terminals"), protocol=settings.mqtt_protocol)
    await mqtt.connect()
    return TerminalFarm(devices, verifier, clock, mqtt, play_seconds=play_seconds, offline=offline)
