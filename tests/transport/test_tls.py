"""The engine's MQTT link over TLS with a password, against Mosquitto configured as in deploy/mosquitto/."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import structlog
from pydantic import SecretStr

from channels.base import Outgoing
from channels.loudspeaker import LoudspeakerChannel
from tests.speaker.broker import VILLAGE, command
from tests.transport.tls_broker import ENGINE_USER, SecureBroker, password_of
from warnengine.clock import SystemClock
from warnengine.devices.acks import LoudspeakerAckListener
from warnengine.model import SpeakerAck
from warnengine.signing import Signer, Verifier
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import NullSink
from warnengine.transport.mqtt import AsyncMqtt, MqttError, MqttSecurity
from warnengine.wire.loudspeaker import BadAck

CLOCK = SystemClock()


def cid() -> str:
    return "t-" + secrets.token_hex(4)


class Acks:
    """The engine's ack listener running, collecting what it hands on."""

    def __init__(self) -> None:
        self.got: list[SpeakerAck] = []
        self.bad: list[BadAck] = []
        self._changed = asyncio.Event()

    async def on_acks(self, acks: list[SpeakerAck]) -> None:
        self.got.extend(acks)
        self._changed.set()

    async def on_bad(self, bad: BadAck) -> None:
        self.bad.append(bad)

    async def until(self, cmd_id: str, state: str, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(a.cmd_id == cmd_id and a.state.value == state for a in self.got):
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def ack_listener(port: int, security: MqttSecurity) -> AsyncIterator[Acks]:
    acks = Acks()
    listener = LoudspeakerAckListener("127.0.0.1", port, cid(), "+", shared_group=None, security=security)
    task = asyncio.create_task(listener.run(acks.on_acks, acks.on_bad))
    await asyncio.sleep(0.3)  # connected and subscribed
    assert not task.done(), task.exception()
    try:
        yield acks
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@asynccontextmanager
async def terminal(b: SecureBroker, signer: Signer, device: str) -> AsyncIterator[ReferenceTerminal]:
    link = LinkConfig("127.0.0.1", b.tls, f"spk-{device}", "5", b.login(device), connect_timeout_s=5)
    t = ReferenceTerminal(TerminalConfig(device, VILLAGE, link), Verifier([signer.public]), NullSink(), CLOCK)
    await t.start()
    try:
        yield t
    finally:
        await t.stop()


async def test_engine_commands_and_acks_over_tls_with_a_password(
    secure: SecureBroker, signer: Signer
) -> None:
    engine = secure.login(ENGINE_USER)
    channel = LoudspeakerChannel("127.0.0.1", secure.tls, cid(), security=engine)
    await channel.start()
    try:
        async with ack_listener(secure.tls, engine) as acks, terminal(secure, signer, "spk-a"):
            cmd = command(signer, CLOCK)
            out = Outgoing(cmd["id"], "spk-a", VILLAGE, cmd, cmd["expires_at"])
            [result] = await channel.send_batch([out])
            assert result.ok, result.reason
            await acks.until(cmd["id"], "played")
            assert not acks.bad
    finally:
        await channel.stop()


async def test_mutual_tls_with_a_client_certificate(secure: SecureBroker) -> None:
    base = secure.login(ENGINE_USER)
    with_cert = MqttSecurity(
        tls=True, ca_file=base.ca_file, cert_file=secure.client.cert, key_file=secure.client.key,
        username=base.username, password=base.password,
    )  # fmt: skip
    ok = AsyncMqtt("127.0.0.1", secure.mutual, cid(), security=with_cert)
    await ok.connect(5)
    await ok.disconnect()
    with pytest.raises(MqttError):  # the listener requires a certificate
        await AsyncMqtt("127.0.0.1", secure.mutual, cid(), security=base).connect(3)


@pytest.mark.parametrize(
    ("case", "user", "password"),
    [("no credentials", None, None), ("wrong password", ENGINE_USER, "guess-1"), ("unknown user", "x", "y")],
)
async def test_refused_at_once_with_a_clear_reason(
    secure: SecureBroker, case: str, user: str | None, password: str | None
) -> None:
    me = cid()
    client = AsyncMqtt("127.0.0.1", secure.tls, me, security=secure.login(user, password))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with structlog.testing.capture_logs() as logs, pytest.raises(MqttError) as err:
        await client.connect(10)
    assert loop.time() - started < 5, "a refusal must not wait for the timeout"
    assert "refused the connection" in str(err.value), case
    assert "password" in str(err.value) or "authori" in str(err.value).lower()
    if password:
        assert password not in str(err.value)
        assert password not in repr(logs)
    logs = [e for e in logs if e.get("client_id") == me]  # not a client another test left reconnecting
    assert [e["event"] for e in logs] == ["mqtt_connect_refused"], logs
    assert logs[0]["user"] == user and logs[0]["tls"] is True


async def test_anonymous_is_refused_on_every_listener(secure: SecureBroker) -> None:
    for port, tls in ((secure.tls, True), (secure.plain, False)):
        client = AsyncMqtt(
            "127.0.0.1", port, cid(), security=MqttSecurity(tls=tls, ca_file=secure.ca.cert if tls else None)
        )
        with pytest.raises(MqttError, match="refused the connection"):
            await client.connect(5)


async def test_the_plain_loopback_listener_takes_a_password(secure: SecureBroker) -> None:
    client = AsyncMqtt("127.0.0.1", secure.plain, cid(), security=secure.login(ENGINE_USER, tls=False))
    await client.connect(5)
    await client.disconnect()


async def test_without_tls_at_the_tls_listener_no_connection(secure: SecureBroker) -> None:
    client = AsyncMqtt("127.0.0.1", secure.tls, cid(), security=secure.login(ENGINE_USER, tls=False))
    with pytest.raises(MqttError, match="no MQTT connection") as err:
        await client.connect(2)
    assert password_of(ENGINE_USER) not in str(err.value)


async def test_the_broker_certificate_is_checked(
    secure: SecureBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.transport.pki import Ca

    login = secure.login(ENGINE_USER)
    # Its certificate names broker.example, not 127.0.0.1: the host name check is always on.
    client = AsyncMqtt("127.0.0.1", secure.wrong_name, cid(), security=login)
    with pytest.raises(MqttError, match=r"CERTIFICATE_VERIFY_FAILED.*IP address mismatch"):
        await client.connect(2)
    stranger = Ca(tmp_path_factory.mktemp("stranger"), "another CA")
    other_ca = MqttSecurity(
        tls=True, ca_file=stranger.pair.cert, username=ENGINE_USER, password=login.password
    )
    with pytest.raises(MqttError, match="CERTIFICATE_VERIFY_FAILED"):
        await AsyncMqtt("127.0.0.1", secure.tls, cid(), security=other_ca).connect(2)


def test_security_never_shows_the_password() -> None:
    s = MqttSecurity(tls=True, username="warnengine", password=SecretStr("hunter2-secret"))
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.describe()) and "hunter2" not in s.summary()
    with pytest.raises(ValueError):
        MqttSecurity(ca_file=None, password=SecretStr("x"))  # a password without a user
