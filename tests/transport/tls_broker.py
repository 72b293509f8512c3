"""A real Mosquitto as production runs it (deploy/mosquitto/): no anonymous listener, passwords, the deploy
ACL file, TLS. Certificates come from tests/transport/pki.py, the password file is written here in the
format Mosquitto 2 reads (PBKDF2-SHA512: `user:$7$iterations$salt$hash`, base64)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.transport.pki import Ca, Pair
from warnengine.embedded.brokers import free_port, mosquitto_binary, spawn, wait_port
from warnengine.transport.mqtt import MqttSecurity
from warnengine.wire.loudspeaker import group_acl

ACL = Path(__file__).parents[2] / "deploy" / "mosquitto" / "warnengine.acl"
ENGINE_USER = "warnengine"


def password_line(user: str, password: str, iterations: int = 1000) -> str:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{user}:$7${iterations}${b64(salt).decode()}${b64(digest).decode()}\n"


def password_of(user: str) -> str:
    return f"pw-{user}-3f9c"


@dataclass(frozen=True)
class SecureBroker:
    tls: int  # TLS, password, ACL: terminals and workers
    plain: int  # loopback without TLS, still password and ACL (a worker on the broker's host)
    mutual: int  # TLS that also requires a client certificate
    wrong_name: int  # TLS whose certificate names another host
    ca: Pair
    client: Pair  # a client certificate from the same CA
    log: Path

    def login(self, user: str | None, password: str | None = None, tls: bool = True) -> MqttSecurity:
        pw = password if password is not None else (password_of(user) if user else None)
        return MqttSecurity(
            tls=tls,
            ca_file=self.ca.cert if tls else None,
            username=user,
            password=SecretStr(pw) if pw is not None else None,
        )


@contextmanager
def secure_mosquitto(
    d: Path, users: list[str], groups: dict[str, str] | None = None
) -> Iterator[SecureBroker]:
    """`groups` (device → village): the deploy ACL plus `warnengine grid acl`'s stanzas for them, as an
    operator appends them; without, the deploy ACL file alone."""
    binary = mosquitto_binary()
    if not binary:
        pytest.fail("mosquitto is not installed (Debian package mosquitto)")
    ca = Ca(d)
    server = ca.issue("server", "broker", ["localhost"], ["127.0.0.1"])
    other = ca.issue("other", "other", ["broker.example"], [])
    client = ca.issue("client", ENGINE_USER, [], [], client=True)
    pw = d / "passwd"
    pw.write_text("".join(password_line(u, password_of(u)) for u in [ENGINE_USER, *users]))
    pw.chmod(0o600)
    ports = [free_port() for _ in range(4)]

    def tls(port: int, pair: Pair, extra: str = "") -> str:
        return (
            f"listener {port} 127.0.0.1\ncafile {ca.pair.cert}\ncertfile {pair.cert}\nkeyfile {pair.key}\n"
            f"tls_version tlsv1.2\n{extra}"
        )

    acl = ACL
    if groups is not None:
        acl = d / "warnengine.acl"
        acl.write_text(ACL.read_text() + "\n" + group_acl(groups.items()))
    conf = d / "mosquitto.conf"
    conf.write_text(
        # As root, Mosquitto would switch to the mosquitto user and lose access to the test's files.
        "user root\npersistence false\nset_tcp_nodelay true\nlog_dest stdout\nlog_type all\n"
        f"per_listener_settings false\nallow_anonymous false\npassword_file {pw}\nacl_file {acl}\n"
        + tls(ports[0], server)
        + f"listener {ports[1]} 127.0.0.1\n"
        + tls(ports[2], server, "require_certificate true\n")
        + tls(ports[3], other)
    )
    log = d / "mosquitto.log"
    proc = spawn([binary, "-c", str(conf)], log)
    try:
        for p in ports:
            wait_port(p, proc=proc)
        yield SecureBroker(ports[0], ports[1], ports[2], ports[3], ca=ca.pair, client=client, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
