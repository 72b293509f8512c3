"""MQTT login and TLS flags shared by `warnengine speaker` and `warnengine terminals`.

The password comes from an environment variable (never a flag: flags show up in `ps`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from warnengine.transport.security import MqttSecurity


def add_security_arguments(p: argparse.ArgumentParser, user_help: str) -> None:
    p.add_argument("--username", default=None, help=user_help)
    p.add_argument("--password-env", default="WARNENGINE_SPEAKER_PASSWORD", help="env var with the password")
    p.add_argument("--tls", action="store_true", help="TLS with the system's CA bundle (implied by --tls-ca)")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA file: connect with TLS (host name checked)")
    p.add_argument("--tls-cert", type=Path, default=None, help="client certificate (mutual TLS)")
    p.add_argument("--tls-key", type=Path, default=None, help="its key, when not in the certificate file")


def given(args: argparse.Namespace) -> bool:
    """Whether any login or TLS flag (or the password variable) was given."""
    return bool(
        args.username
        or args.tls
        or args.tls_ca
        or args.tls_cert
        or args.tls_key
        or os.environ.get(args.password_env)
    )


def security_from_args(args: argparse.Namespace, default_user: str | None, url: str = "") -> MqttSecurity:
    """The flags as MqttSecurity; the URL's user, else `default_user`, logs in when only a password is
    given; an mqtts:// URL turns TLS on."""
    password = os.environ.get(args.password_env)
    url_user = urlsplit(url).username if "://" in url else None
    return MqttSecurity(
        tls=bool(args.tls or args.tls_ca or args.tls_cert or url.startswith("mqtts://")),
        ca_file=args.tls_ca,
        cert_file=args.tls_cert,
        key_file=args.tls_key,
        username=args.username or url_user or (default_user if password else None),
        password=SecretStr(password) if password else None,
    )
