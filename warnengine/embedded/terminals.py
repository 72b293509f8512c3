"""Running the simulated terminal farm against a stack's MQTT broker."""

from __future__ import annotations

from collections.abc import Iterable

from warnengine.clock import Clock
from warnengine.pipeline.resources import client_id
from warnengine.settings import Settings
from warnengine.signing import load_verifiers
from warnengine.signing.rotation import trusted_public_keys
from warnengine.signing.sm2 import default_backend
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import AsyncMqtt, MqttSecurity


async def start_farm(
    settings: Settings,
    devices: Iterable[tuple[str, str]],
    clock: Clock,
    play_seconds: float = 0.0,
    offline: Iterable[str] = (),
    security: MqttSecurity | None = None,
) -> TerminalFarm:
    """Connects and returns the farm; the caller runs `farm.run()` as a task.

    `security`: the farm's own login and TLS; default the engine's settings (the embedded broker). On a
    broker with the deploy ACLs the farm needs a user of its own that may read every cmd and write every
    ack and status (a test bench, never production)."""
    host, port = settings.mqtt_host_port()
    # Simulated terminals trust the engine's published keys (every key of a rotation's overlap), Ed25519
    # and, when SM2 can be verified here, SM2: one farm plays both kinds of terminal, without checking
    # which each one is.
    verifier = load_verifiers(trusted_public_keys(settings, sm2=default_backend() is not None))
    sec = security if security is not None else settings.mqtt_security()
    mqtt = AsyncMqtt(host, port, client_id("terminals"), protocol=settings.mqtt_protocol, security=sec)
    await mqtt.connect()
    return TerminalFarm(devices, verifier, clock, mqtt, play_seconds=play_seconds, offline=offline)
