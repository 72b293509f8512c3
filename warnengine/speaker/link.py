"""The terminal's MQTT connection: AsyncMqtt plus login, TLS and a signal on every (re)connect.

A terminal must re-announce itself after each reconnect, because the broker may have published its Last
Will (`online: false`) while it was away; `connects` counts CONNACKs so the terminal can notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from warnengine.transport.mqtt import AsyncMqtt, MqttError, Will


@dataclass(frozen=True)
class LinkConfig:
    host: str
    port: int
    client_id: str
    protocol: str = "auto"  # "5", "4" (MQTT 3.1.1) or "auto": 5, else 3.1.1 when the broker refuses it
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None  # CA bundle; set to use TLS
    tls_cert: Path | None = None  # client certificate (mutual TLS), optional
    tls_key: Path | None = None
    connect_timeout_s: float = 15.0


class TerminalLink(AsyncMqtt):
    def __init__(self, cfg: LinkConfig, protocol: int, will: Will) -> None:
        # Persistent session: commands published while the terminal is away wait at the broker (until
        # their MQTT 5 expiry); manual ack: a command is confirmed only once it has been handled.
        super().__init__(
            cfg.host, cfg.port, cfg.client_id, protocol=protocol, persistent=True, manual_ack=True, will=will
        )
        if cfg.username:
            self._client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls_ca:
            self._client.tls_set(
                ca_certs=str(cfg.tls_ca),
                certfile=str(cfg.tls_cert) if cfg.tls_cert else None,
                keyfile=str(cfg.tls_key) if cfg.tls_key else None,
            )
        self.connects = 0
        self.reconnected = asyncio.Event()
        self._refused: asyncio.Future[str] | None = None

    async def connect(self, timeout: float = 15.0) -> None:
        """As AsyncMqtt.connect, but a refused CONNACK (bad password, protocol) fails at once."""
        self._refused = asyncio.get_running_loop().create_future()
        connecting = asyncio.ensure_future(super().connect(timeout))
        either: list[asyncio.Future[Any]] = [connecting, self._refused]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            self._refused.cancel()
            return connecting.result()
        connecting.cancel()
        await asyncio.to_thread(self._client.loop_stop)
        raise MqttError(f"{self.host}:{self.port} refused the connection: {self._refused.result()}")

    def _on_connect(self, client: paho.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        super()._on_connect(client, u, f, rc, p)
        if self._loop is None:
            return
        if rc.is_failure:
            self._loop.call_soon_threadsafe(self._note_refusal, str(rc))
        else:
            self._loop.call_soon_threadsafe(self._note_connect)

    def _note_refusal(self, reason: str) -> None:
        if self._refused and not self._refused.done():
            self._refused.set_result(reason)

    def _note_connect(self) -> None:
        self.connects += 1
        if self.connects > 1:
            self.reconnected.set()


async def open_link(cfg: LinkConfig, will: Will) -> TerminalLink:
    """Connect with MQTT 5 (message expiry, session expiry) and fall back to 3.1.1 if asked to."""
    if cfg.protocol in ("5", "auto"):
        link = TerminalLink(cfg, 5, will)
        try:
            await link.connect(cfg.connect_timeout_s if cfg.protocol == "5" else 5.0)
            return link
        except MqttError:
            if cfg.protocol == "5":
                raise
    link = TerminalLink(cfg, 4, will)
    await link.connect(cfg.connect_timeout_s)
    return link
