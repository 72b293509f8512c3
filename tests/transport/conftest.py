from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.transport.tls_broker import SecureBroker, secure_mosquitto
from warnengine.signing import Signer

TERMINALS = ["spk-a", "spk-b"]


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_mosquitto(tmp_path_factory.mktemp("tls"), TERMINALS) as b:
        yield b


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())
