"""Signing of loudspeaker commands over canonical bytes (design decision 5): Ed25519 here, SM2/SM3 in
`signing_sm2.py`, chosen per terminal (`devices.sig_alg`) through `Signers` and `Verifiers`.

Canonical bytes: the command as JSON without `sig`, keys sorted, no whitespace, UTF-8. Both the engine and
terminals compute them the same way, so any field change breaks the signature.

An Ed25519 command carries no `alg` (terminals built before SM2 existed keep working); an SM2 one carries
`alg: "sm2-sm3"`, inside the signed bytes. A terminal accepts only the algorithms it holds keys for: an
SM2 terminal refuses an Ed25519 command (`unsupported_alg`), and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

if TYPE_CHECKING:
    from warnengine.signing_sm2 import Sm2Signer

ED25519 = "ed25519"
SM2_SM3 = "sm2-sm3"
ALGS = (ED25519, SM2_SM3)  # the values of devices.sig_alg; the first is the default


def canonical_bytes(command: dict[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    def sign(self, command: dict[str, Any]) -> dict[str, Any]:
        """Returns a copy with `key_id` set and `sig` (base64) over the canonical bytes."""
        body = {**command, "key_id": self.key_id}
        body.pop("sig", None)
        sig = self._private.sign(canonical_bytes(body))
        return {**body, "sig": base64.b64encode(sig).decode()}

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Verifier:
    """Holds the trusted public keys by key id; several during a key rotation."""

    def __init__(self, keys: list[Ed25519PublicKey]) -> None:
        self._keys = {key_id(k): k for k in keys}

    def verify(self, command: dict[str, Any]) -> str | None:
        """None when the signature is good, else the reason it is not."""
        sig = command.get("sig")
        if not sig:
            return "unsigned"
        if command.get("alg", ED25519) != ED25519:
            return "unsupported_alg"
        key = self._keys.get(str(command.get("key_id", "")))
        if key is None:
            return "unknown_key"
        try:
            key.verify(base64.b64decode(sig, validate=True), canonical_bytes(command))
        except (InvalidSignature, ValueError):
            return "bad_signature"
        return None


def load_or_create_signer(path: Path) -> Signer:
    """The engine's private key (PEM, PKCS#8), created 0600 on first use; `<path>.pub` beside it."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return Signer(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)
    signer = Signer(private)
    public_path(path).write_bytes(signer.public_pem())
    return signer


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def load_public_keys(paths: list[Path]) -> list[Ed25519PublicKey]:
    keys = []
    for p in paths:
        key = serialization.load_pem_public_key(p.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{p} is not an Ed25519 public key")
        keys.append(key)
    return keys


class CommandVerifier(Protocol):
    def verify(self, command: dict[str, Any]) -> str | None: ...


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
        if not command.get("sig"):
            return "unsigned"
        alg = command.get("alg", ED25519)
        verifier = self._by_alg.get(alg) if isinstance(alg, str) else None
        if verifier is None:
            return "unsupported_alg"
        return verifier.verify(command)


def load_verifiers(paths: Iterable[Path]) -> Verifiers:
    """A terminal's verifier from public key files, told apart by content: Ed25519 PEM, SM2
    SubjectPublicKeyInfo PEM or SM2 hex (`signing_sm2.parse_sm2_public_key`)."""
    from warnengine.signing_sm2 import Sm2Verifier, is_sm2_public_key, parse_sm2_public_key

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


class SigningUnavailable(Exception):
    """The engine cannot sign with this algorithm now (no implementation or no key); the message says why."""


class Signers:
    """The engine's signing keys, one per algorithm: `sign(command, alg)`.

    Ed25519 is always there. The SM2 key is loaded, or created with its `.pub` (see
    `signing_sm2.load_or_create_sm2_signer`), on the first SM2 command, so a county without SM2 terminals
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
        from warnengine.signing_sm2 import Sm2Unavailable, load_or_create_sm2_signer

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
