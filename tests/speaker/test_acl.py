"""deploy/mosquitto/warnengine.acl on a real Mosquitto: a terminal is confined to its own topics."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.speaker.broker import VILLAGE, EngineSide, command, mosquitto
from warnengine.clock import SystemClock
from warnengine.embedded.brokers import free_port, wait_port
from warnengine.signing import Signer, Verifier
from warnengine.speaker.link import LinkConfig, open_link
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import NullSink
from warnengine.transport.mqtt import MqttError, MqttSecurity, Will
from warnengine.wire.loudspeaker import device_topic

ACL = Path(__file__).parents[2] / "deploy" / "mosquitto" / "warnengine.acl"


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(terminal port, engine port): the deploy ACLs on one listener, the engine's open one on another."""
    if not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto_passwd is not installed (Debian package mosquitto)")
    d = tmp_path_factory.mktemp("acl")
    pw = d / "passwd"
    for n, user in enumerate(("spk-a", "spk-b")):
        subprocess.run(
            ["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(pw), user, f"pw-{user}"], check=True
        )
    pw.chmod(0o600)
    terminals = free_port()
    conf = f"listener {terminals} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\nacl_file {ACL}\n"
    # The helper's own anonymous listener plays the engine's private one.
    with mosquitto(d, conf, prelude="per_listener_settings true\n") as engine_port:
        wait_port(terminals)
        yield terminals, engine_port


def link(port: int, user: str, password: str | None = None) -> LinkConfig:
    login = MqttSecurity(username=user, password=SecretStr(password or f"pw-{user}"))
    return LinkConfig("127.0.0.1", port, f"c-{user}", "5", login, connect_timeout_s=3)


async def test_terminal_is_confined_to_its_own_topics(acl_broker: tuple[int, int], signer: Signer) -> None:
    term_port, engine_port = acl_broker
    with pytest.raises(MqttError):  # a wrong password never connects
        await open_link(
            link(term_port, "spk-a", "guess"), Will(device_topic(VILLAGE, "spk-a", "status"), b"{}")
        )

    engine = await EngineSide(engine_port).start()
    a = ReferenceTerminal(
        TerminalConfig("spk-a", VILLAGE, link(term_port, "spk-a")),
        Verifier([signer.public]),
        NullSink(),
        SystemClock(),
    )
    await a.start()
    # spk-b is hostile: it listens to every command and forges acks and status for spk-a.
    b = await open_link(link(term_port, "spk-b"), Will(device_topic(VILLAGE, "spk-b", "status"), b"{}"))
    await b.subscribe("warn/v1/+/+/+/+/cmd", 1)
    try:
        cmd = command(signer, SystemClock())
        await engine.send("spk-a", cmd)
        await engine.wait(lambda: ("played", None) in engine.states("spk-a", cmd["id"]))

        forged = {"cmd_id": cmd["id"], "state": "failed", "reason": "forged-by-b", "at": 1.0}
        await b.publish(device_topic(VILLAGE, "spk-a", "ack"), json.dumps(forged).encode(), 1)
        await b.publish(device_topic(VILLAGE, "spk-a", "status"), b'{"online": false}', 1, retain=True)
        own_id = "b-" + secrets.token_hex(3)
        own = {"cmd_id": own_id, "state": "received", "at": 1.0}
        await b.publish(device_topic(VILLAGE, "spk-b", "ack"), json.dumps(own).encode(), 1)
        await engine.wait(lambda: engine.states("spk-b", own_id) == [("received", None)])
        await asyncio.sleep(0.2)  # anything b's forgeries could have produced has arrived by now
        assert ("failed", "forged-by-b") not in engine.states("spk-a", cmd["id"])
        assert all(s["online"] for s in engine.statuses("spk-a"))
        assert b.messages.empty()  # b never saw spk-a's command
    finally:
        await a.stop()
        await b.disconnect()
        await engine.close()
