"""SM2/SM3 command signatures: sign, verify, tamper, rotation, and interop with OpenSSL both ways (OpenSSL
is an independent SM2 implementation, so agreement means the Z value, the default ID and SM3 are right)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import gmssl  # noqa: F401  - a test dependency: missing, the suite fails instead of skipping
import pytest

from warnengine.signing import canonical_bytes
from warnengine.signing_sm2 import _N, ALG, Sm2Signer, Sm2Verifier, sm2_key_id

COMMAND = {
    "id": "d-5f1c",
    "warning_id": "w-1",
    "action": "play",
    "priority": 9,
    "text": "山洪红色预警，请立即撤离。",
    "repeat": 3,
    "volume": 100,
    "issued_at": 1700000000.125,
    "expires_at": 1700003600.0,
    "nonce": "00ff",
}
# SubjectPublicKeyInfo prefix for an SM2 key: id-ecPublicKey, curve 1.2.156.10197.1.301, 65-byte point.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


@pytest.fixture(scope="module")
def signer() -> Sm2Signer:
    return Sm2Signer.generate()


def test_sign_and_verify(signer: Sm2Signer) -> None:
    cmd = signer.sign(COMMAND)
    assert (cmd["alg"], cmd["key_id"]) == (ALG, signer.key_id)
    assert len(base64.b64decode(cmd["sig"])) == 64
    assert Sm2Verifier([signer.public]).verify(cmd) is None
    assert Sm2Verifier(["04" + signer.public]).verify(cmd) is None  # the 04-prefixed form too
    assert signer.sign(COMMAND)["sig"] != cmd["sig"]  # a fresh random nonce each time


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"text": "一切正常。"}, "bad_signature"),
        ({"priority": 0}, "bad_signature"),
        ({"expires_at": 1900000000.0}, "bad_signature"),
        ({"alg": "ed25519"}, "unsupported_alg"),
        ({"key_id": "0" * 16}, "unknown_key"),
        ({"sig": ""}, "unsigned"),
        ({"sig": "not base64!"}, "bad_signature"),
        ({"sig": base64.b64encode(b"\x01" * 63).decode()}, "bad_signature"),
        ({"sig": base64.b64encode(b"\x00" * 64).decode()}, "bad_signature"),  # r = s = 0
        ({"sig": base64.b64encode(_N.to_bytes(32, "big") * 2).decode()}, "bad_signature"),  # r = s = n
    ],
)
def test_tampered_or_malformed_is_rejected(signer: Sm2Signer, change: dict[str, object], reason: str) -> None:
    cmd = {**signer.sign(COMMAND), **change}
    assert Sm2Verifier([signer.public]).verify(cmd) == reason


def test_unsigned_and_wrong_key(signer: Sm2Signer) -> None:
    assert Sm2Verifier([signer.public]).verify(COMMAND) == "unsigned"
    other = Sm2Signer.generate()
    forged = {**other.sign(COMMAND), "key_id": signer.key_id}  # signed by another key, claiming ours
    assert Sm2Verifier([signer.public]).verify(forged) == "bad_signature"
    # Rotation: a terminal trusting both keys accepts both.
    both = Sm2Verifier([signer.public, other.public])
    assert both.verify(signer.sign(COMMAND)) is None and both.verify(other.sign(COMMAND)) is None


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Sm2Signer("0" * 64)
    with pytest.raises(ValueError, match="not a point"):
        Sm2Verifier(["1" * 128])
    with pytest.raises(ValueError, match="128 hex"):
        Sm2Verifier(["04abcd"])


def test_key_starting_with_0_or_4_survives() -> None:
    """gmssl's constructor strips leading '0'/'4' characters from public keys; ours must not."""
    for _ in range(200):
        s = Sm2Signer.generate()
        if s.public[0] in "04":
            break
    else:  # chance ~ (7/8)**200: never, unless key generation is broken
        pytest.fail("no key starting with 0 or 4 in 200 tries")
    assert Sm2Verifier([s.public]).verify(s.sign(COMMAND)) is None


def _der_int(n: int) -> bytes:
    body = n.to_bytes((n.bit_length() + 8) // 8, "big")  # a leading 0 byte keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def _der_to_rs(der: bytes) -> bytes:
    assert der[0] == 0x30
    i, out = 2, b""
    for _ in range(2):
        assert der[i] == 0x02
        length = der[i + 1]
        out += int.from_bytes(der[i + 2 : i + 2 + length], "big").to_bytes(32, "big")
        i += 2 + length
    return out


# OpenSSL 3.0's `dgst` leaves the SM2 ID empty unless told; the standard's default ID must be named.
DISTID = ("-sigopt", "distid:1234567812345678")


def _require_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is missing (Debian package openssl)")


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    _require_openssl()
    return subprocess.run(["openssl", *args], capture_output=True, check=False, timeout=30)


def test_openssl_verifies_our_signature(signer: Sm2Signer, tmp_path: Path) -> None:
    cmd = signer.sign(COMMAND)
    raw = base64.b64decode(cmd["sig"])
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    ints = _der_int(r) + _der_int(s)
    (tmp_path / "sig.der").write_bytes(b"\x30" + bytes([len(ints)]) + ints)
    (tmp_path / "data").write_bytes(canonical_bytes(cmd))
    spki = SPKI_PREFIX + bytes.fromhex("04" + signer.public)
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki).decode() + "-----END PUBLIC KEY-----\n"
    (tmp_path / "pub.pem").write_text(pem)
    args = (
        "dgst",
        "-sm3",
        *DISTID,
        "-verify",
        str(tmp_path / "pub.pem"),
        "-signature",
        str(tmp_path / "sig.der"),
    )
    ok = _openssl(*args, str(tmp_path / "data"))
    assert b"Verified OK" in ok.stdout, ok.stderr
    (tmp_path / "data").write_bytes(canonical_bytes({**cmd, "priority": 0}))
    assert b"Verified OK" not in _openssl(*args, str(tmp_path / "data")).stdout


def test_we_verify_an_openssl_signature(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    made = _openssl("genpkey", "-algorithm", "SM2", "-out", str(key))
    if made.returncode:
        pytest.fail(f"this openssl cannot make SM2 keys: {made.stderr!r}")
    public = _openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER").stdout[-65:].hex()
    body = {**COMMAND, "alg": ALG, "key_id": sm2_key_id(public)}
    (tmp_path / "data").write_bytes(canonical_bytes(body))
    signed = _openssl("dgst", "-sm3", *DISTID, "-sign", str(key), str(tmp_path / "data"))
    assert signed.returncode == 0, signed.stderr
    cmd = {**body, "sig": base64.b64encode(_der_to_rs(signed.stdout)).decode()}
    assert Sm2Verifier([public]).verify(cmd) is None
    assert Sm2Verifier([public]).verify({**cmd, "text": "x"}) == "bad_signature"
