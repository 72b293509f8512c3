"""Ed25519 signatures over canonical bytes: the engine's default signer and a terminal's verifier."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from warnengine.signing.canonical import ED25519, canonical_bytes


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
        if not isinstance(sig, str):  # `"sig": 12345` is a forgery, not a crash
            return "bad_signature"
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
