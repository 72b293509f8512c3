"""Canonical bytes of a loudspeaker command, the algorithm names, and what every verifier is.

Canonical bytes: the command as JSON without `sig`, keys sorted, no whitespace, UTF-8. Both the engine and
terminals compute them the same way, so any field change breaks the signature.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

ED25519 = "ed25519"
SM2_SM3 = "sm2-sm3"
ALGS = (ED25519, SM2_SM3)  # the values of devices.sig_alg; the first is the default


def canonical_bytes(command: dict[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class CommandVerifier(Protocol):
    def verify(self, command: dict[str, Any]) -> str | None: ...


class SigningUnavailable(Exception):
    """The engine cannot sign with this algorithm now (no implementation or no key); the message says why."""
