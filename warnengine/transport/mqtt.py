"""asyncio over paho-mqtt: paho's network thread does the I/O, futures carry PUBACKs back to the loop.

paho was chosen over aiomqtt because it was 2-4x faster here (docs/design.md); this bridge is the price.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from warnengine.obs.log import RateLimitedLog
from warnengine.transport.security import MqttSecurity

__all__ = ["AsyncMqtt", "Message", "MqttError", "MqttSecurity", "Will", "set_no_delay"]

log = structlog.get_logger("warnengine.mqtt")


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttError(Exception):
    pass


class AsyncMqtt:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        protocol: int = 5,
        persistent: bool = False,
        manual_ack: bool = False,
        will: Will | None = None,
        max_inflight: int = 1000,
        security: MqttSecurity | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.security = security or MqttSecurity()
        self.protocol = protocol
        self.persistent = persistent
        proto = paho.MQTTv5 if protocol == 5 else paho.MQTTv311
        # MQTT 5 sets clean start at connect time; 3.1.1 fixes it here (None is required for v5).
        clean_session = None if proto == paho.MQTTv5 else not persistent
        self._client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=proto,
            manual_ack=manual_ack,
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        if will:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self.security.apply(self._client)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()
        self._inbox: list[asyncio.Future[None] | Message] = []
        self._wake_scheduled = False
        self._subscriptions: dict[str, int] = {}
        self._connected: asyncio.Event | None = None
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.manual_ack = manual_ack
        self._expiry_props: dict[int, Properties] = {}
        self._refused: asyncio.Future[str] | None = None
        self._was_connected = False
        self._giving_up = False
        self._log = RateLimitedLog(log)

    # -- paho thread callbacks ---------------------------------------------------------------------

    def _call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Hand work to the asyncio loop; a client whose loop has ended (its owner never disconnected
        it) must not raise in paho's thread on every reconnect."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: paho.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        set_no_delay(client)
        if rc.is_failure:
            self._client.last_error = f"refused: {rc}"
            self._log.error("mqtt_connect_refused", reason=str(rc), hint=_hint(str(rc)), **self._where())
            if self._loop and self._refused and not self._refused.done():
                self._giving_up = True  # connect() raises with this reason: paho's next try is noise
                self._call_soon(_settle, self._refused, str(rc))
            return
        self._client.last_error = None
        if self._was_connected:
            self._log.info("mqtt_reconnected", **self._where())
        self._was_connected = True
        for topic, qos in self._subscriptions.items():
            client.subscribe(topic, qos)
        if self._loop and self._connected:
            self._call_soon(self._connected.set)

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if self._connected and self._connected.is_set() and rc.is_failure:
            self._log.warning("mqtt_disconnected", reason=str(rc), **self._where())
        elif rc.is_failure and self._client.last_error is None:
            # Closed before any CONNACK: typically a plain client at a TLS listener (or the reverse).
            self._client.last_error = f"connection closed before CONNACK ({rc}); TLS on one side only?"
        if self._loop and self._connected:
            self._call_soon(self._connected.clear)

    def _on_publish(self, _c: paho.Client, _u: object, mid: int, _rc: ReasonCode, _p: object) -> None:
        with self._lock:
            fut = self._pending.pop(mid, None)
            if fut is None:
                self._early.add(mid)  # PUBACK beat the registration below
                return
            self._inbox.append(fut)
            wake = not self._wake_scheduled
            self._wake_scheduled = True
        if wake and self._loop:
            self._call_soon(self._drain)

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        m = Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, bool(msg.retain))
        with self._lock:
            self._inbox.append(m)
            wake = not self._wake_scheduled
            self._wake_scheduled = True
        if wake and self._loop:
            self._call_soon(self._drain)

    def _drain(self) -> None:
        """On the event loop: everything paho handed over since the last wake-up, in order.

        One wake-up per burst rather than one per PUBACK or message: a county-wide fan-out is thousands
        of them, and each cross-thread wake-up costs a self-pipe write and a GIL hand-over.
        """
        with self._lock:
            items, self._inbox = self._inbox, []
            self._wake_scheduled = False
        for item in items:
            if isinstance(item, Message):
                self.messages.put_nowait(item)
            else:
                _resolve(item)

    # -- asyncio API -------------------------------------------------------------------------------

    def _on_connect_fail(self, _c: paho.Client, _u: object) -> None:
        if self._giving_up:  # connect() already said why; stopping the loop cut paho's next attempt
            return
        self._log.error("mqtt_connect_failed", error=self._client.last_error, **self._where())

    def _where(self) -> dict[str, object]:
        """Who is connecting where, for log lines: never the password."""
        return {"host": self.host, "port": self.port, "client_id": self.client_id, **self.security.describe()}

    async def connect(self, timeout: float = 15.0) -> None:
        """Connect, or raise MqttError: at once when the broker refuses the CONNECT (bad user name or
        password, not authorised, protocol), else after `timeout` with the last connection error."""
        self._loop = asyncio.get_running_loop()
        self._giving_up = False
        self._connected = asyncio.Event()
        self._refused = self._loop.create_future()
        props = None
        clean_start: bool | int = paho.MQTT_CLEAN_START_FIRST_ONLY
        if self.protocol == 5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if self.persistent:
                props.SessionExpiryInterval = 3600
                clean_start = False
            else:
                clean_start = True
        kw: dict[str, object] = {"keepalive": 15}
        if self.protocol == 5:
            kw.update(clean_start=clean_start, properties=props)
        self._client.connect_async(self.host, self.port, **kw)  # type: ignore[arg-type]
        self._client.loop_start()
        connected: asyncio.Future[Any] = asyncio.ensure_future(self._connected.wait())
        either: set[asyncio.Future[Any]] = {connected, self._refused}
        done, _ = await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if connected in done:
            self._refused.cancel()
            return
        connected.cancel()
        self._giving_up = True
        await asyncio.to_thread(self._client.loop_stop)
        sock = self._client.socket()  # a half-open attempt (no CONNACK) would leak its descriptor
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if self._refused.done() and not self._refused.cancelled():
            reason = self._refused.result()
            raise MqttError(
                f"{self.host}:{self.port} refused the connection: {reason} ({_hint(reason)})"
                + self.security.summary()
            )
        self._refused.cancel()
        why = f": {self._client.last_error}" if self._client.last_error else ""
        raise MqttError(f"no MQTT connection to {self.host}:{self.port} within {timeout}s{why}")

    @property
    def connected(self) -> bool:
        return bool(self._connected and self._connected.is_set())

    async def subscribe(self, topic: str, qos: int = 1) -> None:
        self._subscriptions[topic] = qos
        self._client.subscribe(topic, qos)

    def publish_nowait(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, expiry_s: int | None = None
    ) -> asyncio.Future[None]:
        """Queue a publish; the future resolves on PUBACK (QoS 1) or when written (QoS 0)."""
        assert self._loop is not None, "connect() first"
        props = self._expiry(expiry_s) if expiry_s is not None and self.protocol == 5 else None
        fut: asyncio.Future[None] = self._loop.create_future()
        # Never hold our lock while calling paho: its thread holds paho's mutex when it calls
        # _on_publish (which takes our lock); the opposite order here would deadlock.
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            fut.set_exception(MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}"))
            return fut
        if qos == 0:
            fut.set_result(None)
            return fut
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                fut.set_result(None)
            else:
                self._pending[info.mid] = fut
        return fut

    def _expiry(self, expiry_s: float) -> Properties:
        """PUBLISH properties with a message expiry, shared by the publishes with the same expiry (a
        fan-out's commands mostly have one): paho only reads them, and building one costs ~25 µs."""
        seconds = max(1, int(expiry_s))
        props = self._expiry_props.get(seconds)
        if props is None:
            if len(self._expiry_props) >= 64:
                self._expiry_props.clear()
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.MessageExpiryInterval = seconds
            self._expiry_props[seconds] = props
        return props

    async def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, expiry_s: int | None = None
    ) -> None:
        await self.publish_nowait(topic, payload, qos, retain, expiry_s)

    def ack(self, msg: Message) -> None:
        """Confirm a QoS 1 message once it is safely handed on (manual_ack mode)."""
        if self.manual_ack and msg.qos > 0:
            self._client.ack(msg.mid, msg.qos)

    async def disconnect(self) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for fut in pending:
            if not fut.done():
                fut.set_exception(MqttError("disconnected before PUBACK"))


class _Client(paho.Client):
    """paho's client, remembering why the last connection attempt failed (paho's on_connect_fail is not
    told): TLS verification errors, refused TCP connections, unknown hosts."""

    last_error: str | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as e:
            self.last_error = f"{type(e).__name__}: {e}"
            raise


def _hint(reason: str) -> str:
    r = reason.lower()
    if "user name or password" in r or "not authori" in r:
        return "check the MQTT user name and password"
    return "see the broker's log"


def _settle(fut: asyncio.Future[str], reason: str) -> None:
    if not fut.done():
        fut.set_result(reason)


def set_no_delay(client: paho.Client) -> None:
    """Send each small MQTT packet at once. With Nagle on, an ack written right after a PUBACK waits for
    the peer's delayed TCP ACK: ~40 ms per hop, measured here (a command round trip 88 ms vs 3 ms, with
    `set_tcp_nodelay true` on Mosquitto too; the broker setting alone made it worse)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
