"""How an MQTT client proves itself and checks the broker: TLS (hostname always verified) and a login.

One small value passed through every constructor that makes an MQTT client (the engine's channel and
listeners, the terminals), built from settings (`Settings.mqtt_security()`) or a terminal's flags. The
password is a SecretStr: it never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:  # settings import this module: building the CLI parser must not load paho
    import paho.mqtt.client as paho


@dataclass(frozen=True)
class MqttSecurity:
    """No TLS and no login by default (the embedded broker on loopback)."""

    tls: bool = False
    ca_file: Path | None = None  # None with TLS on: the system's CA bundle
    cert_file: Path | None = None  # client certificate (mutual TLS), optional
    key_file: Path | None = None  # its key, when not inside cert_file
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("an MQTT CA, certificate or key file is set but TLS is off")
        if self.key_file and not self.cert_file:
            raise ValueError("an MQTT client key file needs its certificate file")
        if self.password is not None and not self.username:
            raise ValueError("an MQTT password needs a user name")

    def apply(self, client: paho.Client) -> None:
        """Login and TLS on a paho client, before it connects. The broker's certificate must chain to the
        CA and name the host connected to: there is no switch to turn the hostname check off."""
        if self.username:
            client.username_pw_set(self.username, self.password.get_secret_value() if self.password else None)
        if self.tls:
            client.tls_set_context(self.ssl_context())

    def ssl_context(self) -> ssl.SSLContext:
        """TLS 1.2 or later, the broker's certificate verified against `ca_file` (or the system's CAs) and
        its host name checked during the handshake."""
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
        )
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if self.cert_file:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        ctx.sslsocket_class = _ClosingSSLSocket
        return ctx

    def describe(self) -> dict[str, Any]:
        """For log lines: whether TLS is on and who logs in; never the password."""
        return {"tls": self.tls, "user": self.username}

    def summary(self) -> str:
        """For error messages: ` as user 'x' over TLS` (never the password)."""
        who = f" as user {self.username!r}" if self.username else " without a user name"
        return who + (" over TLS" if self.tls else " without TLS")


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the handshake fails (a certificate refused, a plain listener): paho drops the
    socket without closing it, so each retry against a misconfigured broker leaked a descriptor."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise
