"""deploy/mosquitto/: no anonymous listener, the ACL's patterns, and the real file run by a real Mosquitto."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.transport.pki import Ca
from tests.transport.tls_broker import ENGINE_USER, password_line, password_of
from warnengine.embedded.brokers import free_port, mosquitto_binary, spawn, wait_port
from warnengine.transport.mqtt import AsyncMqtt, MqttError, MqttSecurity

MOSQUITTO = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
CONFS = sorted(MOSQUITTO.glob("*.conf"))
ACL = MOSQUITTO / "warnengine.acl"


def options(conf: Path) -> list[tuple[str, str]]:
    lines = [ln.split("#", 1)[0].strip() for ln in conf.read_text().splitlines()]
    pairs = [ln.split(None, 1) for ln in lines if ln]
    return [(kv[0], kv[1] if len(kv) > 1 else "") for kv in pairs]


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: p.name)
def test_no_listener_is_anonymous_and_remote_ones_use_tls(conf: Path) -> None:
    opts = options(conf)
    assert ("allow_anonymous", "true") not in opts
    # One global password file, ACL and allow_anonymous false: a listener cannot be left open by omission.
    assert ("per_listener_settings", "false") in opts and ("allow_anonymous", "false") in opts
    assert any(k == "password_file" for k, _ in opts)
    assert ("acl_file", f"/mosquitto/config/{ACL.name}") in opts
    listeners: list[list[tuple[str, str]]] = []
    for k, v in opts:
        if k == "listener":
            listeners.append([(k, v)])
        elif listeners:
            listeners[-1].append((k, v))
    assert listeners
    for block in listeners:
        bind = block[0][1].split()
        if len(bind) < 2 or bind[1] not in ("127.0.0.1", "::1"):  # reachable from other machines
            assert {k for k, _ in block} >= {"cafile", "certfile", "keyfile"}, block[0]


def test_the_acl_confines_terminals_and_names_the_engine() -> None:
    acl = ACL.read_text()
    for rule in ("read warn/v1/+/+/+/%u/cmd", "write warn/v1/+/+/+/%u/ack", "write warn/v1/+/+/+/%u/status"):
        assert re.search(rf"^pattern {re.escape(rule)}$", acl, re.M), rule
    engine = acl.split(f"user {ENGINE_USER}\n", 1)[1].split("\n\n", 1)[0]
    assert set(engine.splitlines()) == {
        "topic read warn/v1/+/+/+/+/ack",
        "topic read warn/v1/+/+/+/+/status",
        "topic write warn/v1/+/+/+/+/cmd",  # also a village's group topic
        "topic write warn/v1/+/+/group/cmd",  # a township's group topic
        "topic write warn/v1/+/group/cmd",  # the county's group topic
    }
    assert "topic readwrite" not in acl and "topic #" not in acl


async def test_the_deploy_config_runs_and_refuses_anonymous_clients(tmp_path: Path) -> None:
    binary = mosquitto_binary()
    if not binary:
        pytest.fail("mosquitto is not installed (Debian package mosquitto)")
    ca = Ca(tmp_path)
    server = ca.issue("server", "mosquitto", ["localhost"], ["127.0.0.1"])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for src, name in ((ca.pair.cert, "ca.crt"), (server.cert, "server.crt"), (server.key, "server.key")):
        (secrets / name).write_bytes(src.read_bytes())
    (secrets / "passwd").write_text(password_line(ENGINE_USER, password_of(ENGINE_USER)))
    tls, plain = free_port(), free_port()
    text = (CONFS[0].read_text()
        .replace("/mosquitto/secrets", str(secrets)).replace("/mosquitto/config", str(MOSQUITTO))
        .replace("/mosquitto/data/", f"{tmp_path}/").replace("listener 8883", f"listener {tls} 127.0.0.1")
        .replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1"))  # fmt: skip
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("user root\n" + text)  # as root it would otherwise drop to the mosquitto user
    proc = spawn([binary, "-c", str(conf)], tmp_path / "mosquitto.log")
    try:
        wait_port(tls, proc=proc)
        wait_port(plain, proc=proc)
        engine = MqttSecurity(
            tls=True, ca_file=ca.pair.cert, username=ENGINE_USER, password=SecretStr(password_of(ENGINE_USER))
        )
        ok = AsyncMqtt("localhost", tls, "deploy-engine", security=engine)
        await ok.connect(5)
        await ok.disconnect()
        for port, sec in ((tls, MqttSecurity(tls=True, ca_file=ca.pair.cert)), (plain, MqttSecurity())):
            with pytest.raises(MqttError, match="refused the connection"):
                await AsyncMqtt("127.0.0.1", port, "deploy-anonymous", security=sec).connect(5)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
