"""The terminal's MQTT connection: AsyncMqtt (with its login and TLS) and a signal on every (re)connect.

A terminal must re-announce itself after each reconnect, because the broker may have published its Last
Will (`online: false`) while it was away; `connects` counts CONNACKs so the terminal can notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from warnengine.transport.mqtt import AsyncMqtt, MqttError, MqttSecurity, Will


@dataclass(frozen=True)
class LinkConfig:
    host: str
    port: int
    client_id: str
    protocol: str = "auto"  # "5", "4" (MQTT 3.1.1) or "auto": 5, else 3.1.1 when the broker refuses it
    security: MqttSecurity | None = None  # TLS and login (user name = device id); None: neither
    connect_timeout_s: float = 15.0


class TerminalLink(AsyncMqtt):
    def __init__(self, cfg: LinkConfig, protocol: int, will: Will) -> None:
        # Persistent session: commands published while the terminal is away wait at the broker (until
        # their MQTT 5 expiry); manual ack: a command is confirmed only once it has been handled.
        # A refused CONNACK (bad password, protocol) fails connect() at once (AsyncMqtt).
        super().__init__(
            cfg.host,
            cfg.port,
            cfg.client_id,
            protocol=protocol,
            persistent=True,
            manual_ack=True,
            will=will,
            security=cfg.security,
        )
        self.connects = 0
        self.reconnected = asyncio.Event()

    def _on_connect(self, client: paho.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        super()._on_connect(client, u, f, rc, p)
        if self._loop is not None and not rc.is_failure:
            self._loop.call_soon_threadsafe(self._note_connect)

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
