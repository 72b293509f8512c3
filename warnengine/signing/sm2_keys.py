"""SM2 keys: the curve, public points and key ids, and the PEM/DER forms OpenSSL reads and writes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

# The SM2 curve (GB/T 32918.5): y² = x³ + ax + b over F_p, base point G of order n.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0


def public_point(public: str) -> str:
    """128 hex digits x || y of a point on the curve; raises ValueError otherwise."""
    public = public.strip().lower()
    if len(public) == 130 and public.startswith("04"):
        public = public[2:]  # slice, never lstrip: x may itself start with 0 or 4
    if len(public) != 128:
        raise ValueError("an SM2 public key is 128 hex digits (x || y), or 130 with the 04 prefix")
    try:
        x, y = int(public[:64], 16), int(public[64:], 16)
    except ValueError:
        raise ValueError("an SM2 public key is hex digits") from None
    if not (x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0):
        raise ValueError("not a point on the SM2 curve")
    return public


def sm2_key_id(public: str) -> str:
    return hashlib.sha256(bytes.fromhex("04" + public_point(public))).hexdigest()[:16]


# --- key files -----------------------------------------------------------------------------------------

# AlgorithmIdentifier: id-ecPublicKey (1.2.840.10045.2.1) with the SM2 curve (1.2.156.10197.1.301).
ALG_ID = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_SM2_CURVE_OID = bytes.fromhex("2a811ccf5501822d")
_SPKI_PREFIX = bytes.fromhex("3059") + ALG_ID + bytes.fromhex("034200")


def pem_encode(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def pem_decode(text: str) -> tuple[str, bytes]:
    """(label, DER) of the first PEM block in `text`; ValueError if there is none."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0].startswith("-----BEGIN ") or not lines[0].endswith("-----"):
        raise ValueError("not PEM")
    label = lines[0][len("-----BEGIN ") : -5]
    try:
        end = lines.index(f"-----END {label}-----")
    except ValueError:
        raise ValueError(f"PEM block {label} has no end line") from None
    return label, base64.b64decode("".join(lines[1:end]), validate=True)


def _tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`."""
    if pos + 2 > len(der):
        raise ValueError("truncated DER")
    tag, length, pos = der[pos], der[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 2 or pos + n > len(der):
            raise ValueError("bad DER length")
        length, pos = int.from_bytes(der[pos : pos + n], "big"), pos + n
    if pos + length > len(der):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, s, e = _tlv(der, start)
        out.append((tag, s, e))
        start = e
    return out


def private_scalar(der: bytes) -> int:
    """The private key of a PKCS#8 (or SEC1: `openssl ec` output) SM2 key."""
    tag, s, e = _tlv(der, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    parts = _children(der, s, e)
    if len(parts) >= 3 and parts[0][0] == 0x02 and der[parts[0][1] : parts[0][2]] == b"\x00":  # PKCS#8
        _, a, b = parts[1]
        if _SM2_CURVE_OID not in der[a:b]:
            raise ValueError("not an SM2 key (the curve is not 1.2.156.10197.1.301)")
        if parts[2][0] != 0x04:
            raise ValueError("PKCS#8 without a private key")
        der = der[parts[2][1] : parts[2][2]]
        tag, s, e = _tlv(der, 0)
        parts = _children(der, s, e)
    elif any(t == 0xA0 and _SM2_CURVE_OID not in der[a:b] for t, a, b in parts):  # SEC1, named curve
        raise ValueError("not an SM2 key (the curve is not 1.2.156.10197.1.301)")
    if len(parts) < 2 or parts[0][0] != 0x02 or parts[1][0] != 0x04 or parts[1][2] - parts[1][1] > 32:
        raise ValueError("not an EC private key")
    return int.from_bytes(der[parts[1][1] : parts[1][2]], "big")


def sm2_public_pem(public: str) -> bytes:
    """SubjectPublicKeyInfo PEM of a public key (128 or 130 hex digits)."""
    return pem_encode("PUBLIC KEY", _SPKI_PREFIX + bytes.fromhex("04" + public_point(public)))


def parse_sm2_public_key(text: str) -> str:
    """An SM2 public key from a file's text: SubjectPublicKeyInfo PEM, or 128/130 hex digits.
    Returns 128 hex digits; ValueError if it is not an SM2 public key."""
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        return public_point(text)
    label, der = pem_decode(text)
    if label != "PUBLIC KEY":
        raise ValueError(f"expected a PUBLIC KEY, found {label}")
    tag, s, e = _tlv(der, 0)
    parts = _children(der, s, e) if tag == 0x30 else []
    if len(parts) != 2 or parts[1][0] != 0x03:
        raise ValueError("not a SubjectPublicKeyInfo")
    if _SM2_CURVE_OID not in der[parts[0][1] : parts[0][2]]:
        raise ValueError("not an SM2 public key")
    bits = der[parts[1][1] : parts[1][2]]
    if len(bits) != 66 or bits[:2] != b"\x00\x04":
        raise ValueError("an SM2 public key must be an uncompressed point")
    return public_point(bits[2:].hex())


def is_sm2_public_key(text: str) -> bool:
    try:
        parse_sm2_public_key(text)
    except ValueError:
        return False
    return True


def load_sm2_public_key(path: Path) -> str:
    try:
        return parse_sm2_public_key(path.read_text(encoding="ascii"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not an SM2 public key: {e}") from None
