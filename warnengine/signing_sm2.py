"""SM2 signatures with SM3 (GB/T 32918.2, GM/T 0009) over the same canonical bytes as `signing.py`.

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
- Keys: the private key as 64 hex digits, the public key as 128 (x || y) or 130 (04 || x || y).

The arithmetic is the `gmssl` package (pure Python, tested against OpenSSL in tests/test_signing_sm2.py),
with three of its weaknesses covered here: its random nonce comes from `random` (a signature's nonce
must be unpredictable, or the private key leaks), so `secrets` supplies it; its verify accepts r and s
outside [1, n-1], which the standard rejects; and its constructor mangles public keys that start with
0 or 4 (`lstrip("04")`), so the key is set after construction. Being pure Python it is slow (about
20 ms to sign and 25 ms to verify here) and not constant-time: fine for a terminal verifying its own
commands, but an engine signing a county-wide warning for 1,600 terminals would spend ~30 s on it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from gmssl import sm2

from warnengine.signing import canonical_bytes

ALG = "sm2-sm3"
_CURVE: dict[str, str] = sm2.default_ecc_table
_N = int(_CURVE["n"], 16)
_P = int(_CURVE["p"], 16)
_A = int(_CURVE["a"], 16)
_B = int(_CURVE["b"], 16)


def _public_point(public: str) -> str:
    """128 hex digits x || y of a point on the curve; raises ValueError otherwise."""
    public = public.strip().lower()
    if len(public) == 130 and public.startswith("04"):
        public = public[2:]  # slice, never lstrip: x may itself start with 0 or 4
    if len(public) != 128:
        raise ValueError("an SM2 public key is 128 hex digits (x || y), or 130 with the 04 prefix")
    x, y = int(public[:64], 16), int(public[64:], 16)
    if not (x < _P and y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0):
        raise ValueError("not a point on the SM2 curve")
    return public


def sm2_key_id(public: str) -> str:
    return hashlib.sha256(bytes.fromhex("04" + _public_point(public))).hexdigest()[:16]


def _crypt(private: str, public: str) -> Any:
    c = sm2.CryptSM2(private_key=private, public_key="")
    c.public_key = public  # see the module docstring: the constructor would mangle it
    return c


class Sm2Signer:
    def __init__(self, private_hex: str) -> None:
        d = int(private_hex, 16)
        if not 1 <= d <= _N - 2:  # d + 1 must be invertible mod n
            raise ValueError("SM2 private key out of range")
        self._private = f"{d:064x}"
        scratch = _crypt(self._private, "")
        self.public: str = scratch._kg(d, _CURVE["g"])  # d·G, 128 hex digits
        self.key_id = sm2_key_id(self.public)
        self._crypt = _crypt(self._private, self.public)

    @classmethod
    def generate(cls) -> Sm2Signer:
        return cls(f"{secrets.randbelow(_N - 2) + 1:064x}")

    def private_hex(self) -> str:
        return self._private

    def sign(self, command: dict[str, Any]) -> dict[str, Any]:
        """Returns a copy with `alg`, `key_id` set and `sig` (base64 r || s) over the canonical bytes."""
        body = {**command, "alg": ALG, "key_id": self.key_id}
        body.pop("sig", None)
        data = canonical_bytes(body)
        while True:  # gmssl returns None for the rare k that gives r = 0, r + k = n or s = 0: new k
            k = f"{secrets.randbelow(_N - 1) + 1:064x}"
            sig = self._crypt.sign_with_sm3(data, k)
            if sig:
                return {**body, "sig": base64.b64encode(bytes.fromhex(sig)).decode()}


class Sm2Verifier:
    """Trusted SM2 public keys by key id; several during a key rotation (as `signing.Verifier`)."""

    def __init__(self, public_keys: list[str]) -> None:
        self._keys = {sm2_key_id(k): _crypt("", _public_point(k)) for k in public_keys}

    def verify(self, command: dict[str, Any]) -> str | None:
        """None when the signature is good, else the reason it is not."""
        sig = command.get("sig")
        if not sig:
            return "unsigned"
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
        if not (1 <= r < _N and 1 <= s < _N):  # GB/T 32918.2 verification steps B1, B2
            return "bad_signature"
        if not key.verify_with_sm3(raw.hex(), canonical_bytes(command)):
            return "bad_signature"
        return None
