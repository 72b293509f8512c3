"""A real Mosquitto on a free 127.0.0.1 port for the loudspeaker tests, and an engine-side MQTT client."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import pytest

from warnengine.clock import Clock
from warnengine.embedded.brokers import free_port, mosquitto_binary, spawn, wait_port
from warnengine.transport.mqtt import AsyncMqtt, MqttSecurity
from warnengine.wire.loudspeaker import device_topic, parse_topic

VILLAGE = "530102001001"


@contextmanager
def mosquitto(workdir: Path, conf: str = "", prelude: str = "") -> Iterator[int]:
    """Yields the port of a listener open to anonymous clients; `conf` may add more listeners."""
    binary = mosquitto_binary()
    if not binary:
        pytest.fail("mosquitto is not installed (Debian package mosquitto)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "mosquitto.conf"
    # As root, Mosquitto would switch to the mosquitto user and lose access to the test's files.
    head = f"{prelude}user root\npersistence false\nset_tcp_nodelay true\nlog_dest stdout\n"
    path.write_text(f"{head}listener {port} 127.0.0.1\nallow_anonymous true\n{conf}")
    proc = spawn([binary, "-c", str(path)], workdir / "mosquitto.log")
    try:
        wait_port(port, proc=proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CommandSigner(Protocol):
    """Signer (Ed25519) or Sm2Signer: anything that signs a command."""

    def sign(self, command: dict[str, Any]) -> dict[str, Any]: ...


def command(signer: CommandSigner, clock: Clock, **over: Any) -> dict[str, Any]:
    """A signed command; `over` replaces fields before signing."""
    now = clock.now()
    body: dict[str, Any] = {
        "id": "d-" + secrets.token_hex(6),
        "warning_id": "w-1",
        "action": "play",
        "priority": 9,
        "text": "红色暴雨预警",
        "repeat": 1,
        "volume": 100,
        "issued_at": round(now, 3),
        "expires_at": round(now + 60, 3),
        "nonce": secrets.token_hex(12),
    }
    return signer.sign({**body, **over})


class EngineSide:
    """Publishes commands and watches every ack and status, like the engine does."""

    def __init__(self, port: int, security: MqttSecurity | None = None, host: str = "127.0.0.1") -> None:
        self.mqtt = AsyncMqtt(host, port, "test-engine-" + secrets.token_hex(4), security=security)
        self.acks: list[dict[str, Any]] = []  # each with "device"
        self.status: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> EngineSide:
        await self.mqtt.connect()
        await self.mqtt.subscribe("warn/v1/+/+/+/+/ack", 1)
        await self.mqtt.subscribe("warn/v1/+/+/+/+/status", 1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        while True:
            m = await self.mqtt.messages.get()
            where = parse_topic(m.topic)
            if where is None:
                continue
            body = {**json.loads(m.payload), "device": where[1], "retained": m.retain}
            (self.acks if where[2] == "ack" else self.status).append(body)
            self._changed.set()

    async def send(self, device: str, cmd: dict[str, Any] | bytes, expiry_s: int | None = None) -> None:
        raw = cmd if isinstance(cmd, bytes) else json.dumps(cmd, ensure_ascii=False).encode()
        await self.mqtt.publish(device_topic(VILLAGE, device, "cmd"), raw, 1, expiry_s=expiry_s)

    def states(self, device: str, cmd_id: str) -> list[tuple[str, str | None]]:
        return [
            (a["state"], a.get("reason"))
            for a in self.acks
            if a["device"] == device and a["cmd_id"] == cmd_id
        ]

    def statuses(self, device: str) -> list[dict[str, Any]]:
        return [s for s in self.status if s["device"] == device]

    async def wait(self, what: Any, timeout: float = 5.0) -> None:
        """Until `what()` is true; fails the test with the acks seen so far."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not what():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"timed out; acks: {self.acks}\nstatus: {self.status}")
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        await self.mqtt.disconnect()
