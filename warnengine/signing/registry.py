"""The engine's signing keys per algorithm (`Signers`) and a terminal's trusted keys per algorithm
(`Verifiers`): the algorithm is chosen per terminal (`devices.sig_alg`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from warnengine.signing.canonical import ALGS, ED25519, SM2_SM3, CommandVerifier, SigningUnavailable
from warnengine.signing.ed25519 import Signer, Verifier, load_public_keys
from warnengine.signing.sm2 import (
    Sm2Signer,
    Sm2Unavailable,
    Sm2Verifier,
    load_or_create_sm2_signer,
)
from warnengine.signing.sm2_keys import is_sm2_public_key, parse_sm2_public_key


class Verifiers:
    """A terminal's trusted engine keys by algorithm. A command is checked by the verifier of its `alg`
    (none: Ed25519); an algorithm the terminal holds no key for is refused as `unsupported_alg`, so a
    terminal provisioned for SM2 only never plays an Ed25519 command (no downgrade), and vice versa."""

    def __init__(self, by_alg: Mapping[str, CommandVerifier]) -> None:
        if not by_alg:
            raise ValueError("a terminal needs at least one trusted public key")
        unknown = set(by_alg) - set(ALGS)
        if unknown:
            raise ValueError(f"unknown signature algorithm(s) {sorted(unknown)}")
        self._by_alg = dict(by_alg)
        self.algs = tuple(a for a in ALGS if a in self._by_alg)

    def verify(self, command: dict[str, Any]) -> str | None:
        sig = command.get("sig")
        if not sig:
            return "unsigned"
        if not isinstance(sig, str):
            return "bad_signature"
        alg = command.get("alg", ED25519)
        verifier = self._by_alg.get(alg) if isinstance(alg, str) else None
        if verifier is None:
            return "unsupported_alg"
        return verifier.verify(command)


def load_verifiers(paths: Iterable[Path]) -> Verifiers:
    """A terminal's verifier from public key files, told apart by content: Ed25519 PEM, SM2
    SubjectPublicKeyInfo PEM or SM2 hex (`sm2_keys.parse_sm2_public_key`)."""
    ed25519: list[Ed25519PublicKey] = []
    sm2: list[str] = []
    for p in paths:
        text = p.read_bytes().decode("ascii", errors="replace")
        if is_sm2_public_key(text):
            sm2.append(parse_sm2_public_key(text))
        else:
            ed25519 += load_public_keys([p])
    by_alg: dict[str, CommandVerifier] = {}
    if ed25519:
        by_alg[ED25519] = Verifier(ed25519)
    if sm2:
        by_alg[SM2_SM3] = Sm2Verifier(sm2)  # Sm2Unavailable without an SM2 implementation installed
    return Verifiers(by_alg)


class Signers:
    """The engine's signing keys, one per algorithm: `sign(command, alg)`.

    Ed25519 is always there. The SM2 key is loaded, or created with its `.pub` (see
    `sm2.load_or_create_sm2_signer`), on the first SM2 command, so a county without SM2 terminals
    needs neither the key nor an SM2 implementation. When it cannot be had, `sign` raises
    SigningUnavailable (the dispatch records the reason on the delivery and tries again later); the
    attempt is repeated at most every `retry_s`.
    """

    def __init__(
        self,
        ed25519: Signer,
        sm2: Sm2Signer | None = None,
        sm2_key_file: Path | None = None,
        retry_s: float = 30.0,
    ) -> None:
        self.ed25519 = ed25519
        self._sm2 = sm2
        self._sm2_file = sm2_key_file
        self._retry_s = retry_s
        self._failed: tuple[float, str] | None = None  # (monotonic time, reason) of the last failed load
        self._lock = threading.Lock()

    @classmethod
    def of(cls, signer: Signer | Signers) -> Signers:
        """A plain Ed25519 Signer as Signers (callers that only ever sign Ed25519)."""
        return signer if isinstance(signer, Signers) else cls(signer)

    def sign(self, command: dict[str, Any], alg: str = ED25519) -> dict[str, Any]:
        if alg == ED25519:
            return self.ed25519.sign(command)
        if alg == SM2_SM3:
            return self.sm2().sign(command)
        raise SigningUnavailable(f"unknown signature algorithm {alg!r}")

    def sm2(self) -> Sm2Signer:
        if self._sm2 is not None:
            return self._sm2
        with self._lock:
            if self._sm2 is None:
                self._sm2 = self._load_sm2()
            return self._sm2

    def _load_sm2(self) -> Sm2Signer:
        now = time.monotonic()
        if self._failed is not None and now - self._failed[0] < self._retry_s:
            raise SigningUnavailable(self._failed[1])
        if self._sm2_file is None:
            reason = "sm2-sm3: no SM2 key file configured"
        else:
            try:
                return load_or_create_sm2_signer(self._sm2_file)
            except (Sm2Unavailable, OSError, ValueError) as e:
                reason = f"sm2-sm3: {e}"
        self._failed = (now, reason)
        raise SigningUnavailable(reason)
