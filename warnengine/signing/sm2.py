"""SM2 signatures with SM3 (GB/T 32918.2, GM/T 0009) over the canonical bytes of `canonical.py`.

For terminals that follow the national emergency-broadcast standards, which sign with SM2/SM3 rather
than Ed25519. Same interface as `warnengine.signing`: `Sm2Signer.sign(command)` returns a copy with
`alg`, `key_id` and `sig`; `Sm2Verifier.verify(command)` returns None or the reason it failed. `alg`
("sm2-sm3") is inside the signed bytes, so it cannot be swapped without breaking the signature.

- `sig`: base64 of r || s, 32 bytes each, big-endian (the 64-byte form; not DER).
- Signer identity: the standard's default ID "1234567812345678" (GM/T 0009), as OpenSSL and most
  terminals use when none is agreed: Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA). OpenSSL 3.0's
  command line must be told it (`openssl dgst -sm3 -sigopt distid:1234567812345678 -verify ...`): its
  default is an empty ID, which gives different signatures.
- `key_id`: first 16 hex digits of SHA-256 over the uncompressed public key 04 || x || y (65 bytes).
- Keys in code: the private key as 64 hex digits, the public key as 128 (x || y) or 130 (04 || x || y).
  Key files (`load_or_create_sm2_signer`, `load_sm2_public_key`): PEM as OpenSSL writes them — the private
  key PKCS#8 (`openssl genpkey -algorithm SM2` makes one the engine can use), the public key
  SubjectPublicKeyInfo (`openssl pkey -pubin -in engine.sm2.key.pub -text` reads it); a public key file
  may also hold the hex form.

Two interchangeable implementations ("backends"), both tested against each other and against OpenSSL in
tests/signing/test_sm2.py:

- `gmalglib` (C extension, `pip install 'warnengine[sm2]'`, built from source: needs gcc and the Python
  headers): ~0.3 ms to sign and ~1 ms to verify on the 2-core build machine. Its nonce comes from
  /dev/urandom. Its signing loop gives up instead of retrying in the (~2^-256) case r = 0, r + k = n or
  s = 0, so a zero r or s is retried here.
- `gmssl` (pure Python, `pip install 'warnengine[sm2-pure]'`): ~20 ms to sign, ~25 ms to verify, with three
  of its weaknesses covered here: its random nonce comes from `random` (a signature's nonce must be
  unpredictable, or the private key leaks), so `secrets` supplies it; its verify accepts r and s outside
  [1, n-1], which the standard rejects (checked here for both backends); and its constructor mangles
  public keys that start with 0 or 4 (`lstrip("04")`), so the key is set after construction.

`default_backend()` takes gmalglib when it is installed. Neither is constant-time (gmalglib's fixed-base
multiplication indexes a table by the nonce's bytes), like the pure-Python code this replaced: keep the
engine's signing host to itself.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warnengine.signing.canonical import canonical_bytes
from warnengine.signing.sm2_keys import (
    ALG_ID,
    N,
    pem_decode,
    pem_encode,
    private_scalar,
    public_point,
    sm2_key_id,
    sm2_public_pem,
)

ALG = "sm2-sm3"

_create_lock = threading.Lock()  # one key file created at a time in this process

BACKENDS = ("gmalglib", "gmssl")  # preferred first


class Sm2Unavailable(RuntimeError):
    """No SM2 implementation is installed."""


# --- backends ------------------------------------------------------------------------------------------

SignFn = Callable[[bytes], bytes]  # canonical bytes → r || s (64 bytes)
VerifyFn = Callable[[bytes, bytes], bool]  # (canonical bytes, r || s with 1 <= r, s < n) → valid


@dataclass(frozen=True)
class Backend:
    name: str
    public_of: Callable[[int], str]  # private scalar → public key, 128 hex digits
    signer: Callable[[int, str], SignFn]
    verifier: Callable[[str], VerifyFn]


def _gmalglib() -> Backend:
    from gmalglib.sm2 import SM2

    def public_of(d: int) -> str:
        return bytes(SM2.get_pk(d.to_bytes(32, "big")))[1:].hex()

    def signer(d: int, public: str) -> SignFn:
        crypt = SM2(d.to_bytes(32, "big"), bytes.fromhex("04" + public))

        def sign(data: bytes) -> bytes:
            while True:  # see the module docstring: a zero r or s means its loop gave up
                sig = bytes(crypt.sign(data))
                if int.from_bytes(sig[:32], "big") and int.from_bytes(sig[32:], "big"):
                    return sig

        return sign

    def verifier(public: str) -> VerifyFn:
        crypt = SM2(pk=bytes.fromhex("04" + public))
        return lambda data, sig: bool(crypt.verify(data, sig))

    return Backend("gmalglib", public_of, signer, verifier)


def _gmssl() -> Backend:
    from gmssl import sm2

    def crypt(private: str, public: str) -> Any:
        c = sm2.CryptSM2(private_key=private, public_key="")
        c.public_key = public  # see the module docstring: the constructor would mangle it
        return c

    def public_of(d: int) -> str:
        return str(crypt(f"{d:064x}", "")._kg(d, sm2.default_ecc_table["g"]))  # d·G, 128 hex digits

    def signer(d: int, public: str) -> SignFn:
        c = crypt(f"{d:064x}", public)

        def sign(data: bytes) -> bytes:
            while True:  # gmssl returns None for the rare k that gives r = 0, r + k = n or s = 0: new k
                sig = c.sign_with_sm3(data, f"{secrets.randbelow(N - 1) + 1:064x}")
                if sig:
                    return bytes.fromhex(sig)

        return sign

    def verifier(public: str) -> VerifyFn:
        c = crypt("", public)
        return lambda data, sig: bool(c.verify_with_sm3(sig.hex(), data))

    return Backend("gmssl", public_of, signer, verifier)


_LOADERS: dict[str, Callable[[], Backend]] = {"gmalglib": _gmalglib, "gmssl": _gmssl}
_loaded: dict[str, Backend] = {}


def available_backends() -> list[str]:
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def backend(name: str | None = None) -> Backend:
    """The named SM2 implementation, or the fastest installed one; Sm2Unavailable if there is none."""
    if name is None:
        names = available_backends()
        if not names:
            raise Sm2Unavailable(
                "no SM2 implementation installed: pip install 'warnengine[sm2]' (or '[sm2-pure]')"
            )
        name = names[0]
    if name not in _LOADERS:
        raise ValueError(f"unknown SM2 backend {name!r} (one of {', '.join(BACKENDS)})")
    if name not in _loaded:
        try:
            _loaded[name] = _LOADERS[name]()
        except ImportError as e:
            raise Sm2Unavailable(f"SM2 backend {name} is not installed ({e})") from e
    return _loaded[name]


def default_backend() -> str | None:
    """The backend `backend()` picks, or None when none is installed."""
    names = available_backends()
    return names[0] if names else None


# --- signer and verifier -------------------------------------------------------------------------------


class Sm2Signer:
    def __init__(self, private_hex: str, backend_name: str | None = None) -> None:
        d = int(private_hex, 16)
        if not 1 <= d <= N - 2:  # d + 1 must be invertible mod n
            raise ValueError("SM2 private key out of range")
        self._d = d
        self.backend = backend(backend_name)
        self.public: str = self.backend.public_of(d)
        self.key_id = sm2_key_id(self.public)
        self._sign = self.backend.signer(d, self.public)

    @classmethod
    def generate(cls, backend_name: str | None = None) -> Sm2Signer:
        return cls(f"{secrets.randbelow(N - 2) + 1:064x}", backend_name)

    def private_hex(self) -> str:
        return f"{self._d:064x}"

    def sign(self, command: dict[str, Any]) -> dict[str, Any]:
        """Returns a copy with `alg`, `key_id` set and `sig` (base64 r || s) over the canonical bytes."""
        body = {**command, "alg": ALG, "key_id": self.key_id}
        body.pop("sig", None)
        sig = self._sign(canonical_bytes(body))
        return {**body, "sig": base64.b64encode(sig).decode()}

    def sign_bytes(self, data: bytes) -> bytes:
        """r || s (64 bytes) over raw bytes: detached signatures such as the EB platform's EBDS file."""
        return self._sign(data)

    def private_pem(self) -> bytes:
        """PKCS#8, as `openssl genpkey -algorithm SM2` writes it."""
        inner = (
            b"\x30\x6b\x02\x01\x01\x04\x20"
            + self._d.to_bytes(32, "big")
            + b"\xa1\x44\x03\x42\x00\x04"
            + bytes.fromhex(self.public)
        )
        der = b"\x30\x81\x87\x02\x01\x00" + ALG_ID + b"\x04\x6d" + inner
        return pem_encode("PRIVATE KEY", der)

    def public_pem(self) -> bytes:
        return sm2_public_pem(self.public)


class Sm2Verifier:
    """Trusted SM2 public keys by key id; several during a key rotation (as `signing.Verifier`)."""

    def __init__(self, public_keys: list[str], backend_name: str | None = None) -> None:
        impl = backend(backend_name)
        self._keys = {sm2_key_id(k): impl.verifier(public_point(k)) for k in public_keys}

    def verify(self, command: dict[str, Any]) -> str | None:
        """None when the signature is good, else the reason it is not."""
        sig = command.get("sig")
        if not sig:
            return "unsigned"
        if not isinstance(sig, str):
            return "bad_signature"
        if command.get("alg") != ALG:
            return "unsupported_alg"
        key = self._keys.get(str(command.get("key_id", "")))
        if key is None:
            return "unknown_key"
        try:
            raw = base64.b64decode(str(sig), validate=True)
        except ValueError:
            return "bad_signature"
        if len(raw) != 64:
            return "bad_signature"
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        if not (1 <= r < N and 1 <= s < N):  # GB/T 32918.2 verification steps B1, B2
            return "bad_signature"
        if not key(canonical_bytes(command), raw):
            return "bad_signature"
        return None


def verify_bytes(public: str, data: bytes, sig: bytes, backend_name: str | None = None) -> bool:
    """Whether `sig` (r || s, 64 bytes) is `public`'s SM2/SM3 signature of raw `data` (default ID)."""
    if len(sig) != 64:
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (1 <= r < N and 1 <= s < N):  # GB/T 32918.2 verification steps B1, B2
        return False
    return backend(backend_name).verifier(public_point(public))(data, sig)


def load_or_create_sm2_signer(path: Path, backend_name: str | None = None) -> Sm2Signer:
    """The engine's SM2 key (PKCS#8 PEM), created 0600 on first use with `<path>.pub` (SPKI PEM) beside it.

    Creation never replaces a key another worker made meanwhile: the new file is linked into place
    only if none exists, and otherwise the existing key is used.
    """
    with _create_lock:
        if not path.exists():
            signer = Sm2Signer.generate(backend_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(signer.private_pem())
                try:
                    os.link(tmp, path)  # fails if another process created the key first
                except FileExistsError:
                    pass
                else:
                    pub = path.with_name(path.name + ".pub")
                    pub.write_bytes(signer.public_pem())
                    return signer
            finally:
                tmp.unlink(missing_ok=True)
    try:
        label, der = pem_decode(path.read_text(encoding="ascii"))
        if label not in ("PRIVATE KEY", "SM2 PRIVATE KEY", "EC PRIVATE KEY"):  # PKCS#8, SEC1
            raise ValueError(f"expected a PRIVATE KEY, found {label}")
        d = private_scalar(der)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not an SM2 private key: {e}") from None
    return Sm2Signer(f"{d:064x}", backend_name)
