"""SM2/SM3 command signatures: sign, verify, tamper, rotation, and interop with OpenSSL both ways (OpenSSL
is an independent SM2 implementation, so agreement means the Z value, the default ID and SM3 are right).

Every test runs on both backends (gmalglib in C, gmssl in pure Python), and each backend verifies the
other's signatures: three implementations agree, or the suite fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import gmalglib  # noqa: F401  - test dependencies: missing, the suite fails instead of skipping
import gmssl  # noqa: F401
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import warnengine.signing.sm2 as sm2mod
import warnengine.signing.sm2_keys as sm2_keys
from warnengine.signing import canonical_bytes
from warnengine.signing.sm2 import (
    ALG,
    BACKENDS,
    Sm2Signer,
    Sm2Unavailable,
    Sm2Verifier,
    load_or_create_sm2_signer,
)
from warnengine.signing.sm2_keys import (
    N,
    is_sm2_public_key,
    load_sm2_public_key,
    parse_sm2_public_key,
    sm2_key_id,
    sm2_public_pem,
)

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


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def signer(backend: str) -> Sm2Signer:
    return Sm2Signer.generate(backend)


def test_both_backends_are_installed() -> None:
    assert sm2mod.available_backends() == ["gmalglib", "gmssl"]
    assert sm2mod.default_backend() == "gmalglib"  # the fast one, when both are there


def test_curve_constants_match_both_libraries() -> None:
    from gmalglib import sm2 as g
    from gmssl import sm2 as p

    ours = [sm2_keys.P, sm2_keys.A, sm2_keys.B, sm2_keys.N, sm2_keys.GX, sm2_keys.GY]
    table = p.default_ecc_table
    assert ours == [int(table[k], 16) for k in ("p", "a", "b", "n")] + [
        int(table["g"][:64], 16),
        int(table["g"][64:], 16),
    ]
    gx, gy = g.SM2_PARAMS_G
    assert ours == [int.from_bytes(bytes(v), "big") for v in (g.SM2_PARAMS_P, g.SM2_PARAMS_A)] + [
        int.from_bytes(bytes(v), "big") for v in (g.SM2_PARAMS_B, g.SM2_PARAMS_N, gx, gy)
    ]


def test_sign_and_verify(signer: Sm2Signer, backend: str) -> None:
    cmd = signer.sign(COMMAND)
    assert (cmd["alg"], cmd["key_id"]) == (ALG, signer.key_id)
    assert len(base64.b64decode(cmd["sig"])) == 64
    assert Sm2Verifier([signer.public], backend).verify(cmd) is None
    assert Sm2Verifier(["04" + signer.public], backend).verify(cmd) is None  # the 04-prefixed form too
    assert signer.sign(COMMAND)["sig"] != cmd["sig"]  # a fresh random nonce each time


def test_the_backends_verify_each_other() -> None:
    for _ in range(5):  # a few keys, so a key-dependent slip (leading zeros, encodings) shows
        private = Sm2Signer.generate().private_hex()
        signers = {b: Sm2Signer(private, b) for b in BACKENDS}
        assert len({s.public for s in signers.values()}) == 1  # the same public key from d
        for by in BACKENDS:
            cmd = signers[by].sign(COMMAND)
            for check in BACKENDS:
                assert Sm2Verifier([signers[by].public], check).verify(cmd) is None, (by, check)
                assert (
                    Sm2Verifier([signers[by].public], check).verify({**cmd, "repeat": 4}) == "bad_signature"
                )


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
        ({"sig": base64.b64encode(N.to_bytes(32, "big") * 2).decode()}, "bad_signature"),  # r = s = n
    ],
)
def test_tampered_or_malformed_is_rejected(
    signer: Sm2Signer, backend: str, change: dict[str, object], reason: str
) -> None:
    cmd = {**signer.sign(COMMAND), **change}
    assert Sm2Verifier([signer.public], backend).verify(cmd) == reason


def test_unsigned_and_wrong_key(signer: Sm2Signer, backend: str) -> None:
    assert Sm2Verifier([signer.public], backend).verify(COMMAND) == "unsigned"
    other = Sm2Signer.generate(backend)
    forged = {**other.sign(COMMAND), "key_id": signer.key_id}  # signed by another key, claiming ours
    assert Sm2Verifier([signer.public], backend).verify(forged) == "bad_signature"
    # Rotation: a terminal trusting both keys accepts both.
    both = Sm2Verifier([signer.public, other.public], backend)
    assert both.verify(signer.sign(COMMAND)) is None and both.verify(other.sign(COMMAND)) is None


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Sm2Signer("0" * 64)
    with pytest.raises(ValueError, match="not a point"):
        Sm2Verifier(["1" * 128])
    with pytest.raises(ValueError, match="128 hex"):
        Sm2Verifier(["04abcd"])


def test_key_starting_with_0_or_4_survives(backend: str) -> None:
    """gmssl's constructor strips leading '0'/'4' characters from public keys; ours must not."""
    for _ in range(200):
        s = Sm2Signer.generate(backend)
        if s.public[0] in "04":
            break
    else:  # chance ~ (7/8)**200: never, unless key generation is broken
        pytest.fail("no key starting with 0 or 4 in 200 tries")
    assert Sm2Verifier([s.public], backend).verify(s.sign(COMMAND)) is None


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


def test_we_verify_an_openssl_signature(tmp_path: Path, backend: str) -> None:
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
    assert Sm2Verifier([public], backend).verify(cmd) is None
    assert Sm2Verifier([public], backend).verify({**cmd, "text": "x"}) == "bad_signature"


# --- key files ------------------------------------------------------------------------------------------


def test_key_file_is_pkcs8_that_openssl_reads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "engine.sm2.key"
    made = load_or_create_sm2_signer(path)
    assert path.stat().st_mode & 0o077 == 0
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = load_or_create_sm2_signer(path)
    assert again.key_id == made.key_id and again.private_hex() == made.private_hex()
    pub = path.with_name("engine.sm2.key.pub")
    assert load_sm2_public_key(pub) == made.public
    # OpenSSL derives the same public key from our private key file, and reads our public key file.
    derived = _openssl("pkey", "-in", str(path), "-pubout", "-outform", "DER")
    assert derived.returncode == 0, derived.stderr
    assert derived.stdout[-65:].hex() == "04" + made.public
    text = _openssl("pkey", "-pubin", "-in", str(pub), "-outform", "DER")
    assert text.returncode == 0 and text.stdout == derived.stdout
    assert sorted(p.name for p in path.parent.iterdir()) == ["engine.sm2.key", "engine.sm2.key.pub"]


def test_an_openssl_made_key_signs_what_openssl_verifies(tmp_path: Path, backend: str) -> None:
    key = tmp_path / "engine.sm2.key"
    made = _openssl("genpkey", "-algorithm", "SM2", "-out", str(key))
    assert made.returncode == 0, made.stderr
    signer = load_or_create_sm2_signer(key, backend)
    assert not key.with_name("engine.sm2.key.pub").exists()  # an existing key is only read
    (tmp_path / "pub.pem").write_bytes(_openssl("pkey", "-in", str(key), "-pubout").stdout)
    assert load_sm2_public_key(tmp_path / "pub.pem") == signer.public
    cmd = signer.sign(COMMAND)
    raw = base64.b64decode(cmd["sig"])
    ints = _der_int(int.from_bytes(raw[:32], "big")) + _der_int(int.from_bytes(raw[32:], "big"))
    (tmp_path / "sig.der").write_bytes(b"\x30" + bytes([len(ints)]) + ints)
    (tmp_path / "data").write_bytes(canonical_bytes(cmd))
    ok = _openssl(
        "dgst",
        "-sm3",
        *DISTID,
        "-verify",
        str(tmp_path / "pub.pem"),
        "-signature",
        str(tmp_path / "sig.der"),
        str(tmp_path / "data"),
    )
    assert b"Verified OK" in ok.stdout, ok.stderr
    # SEC1, as `openssl ec` writes it ("SM2 PRIVATE KEY"), is read too.
    sec1 = tmp_path / "sec1.key"
    sec1.write_bytes(_openssl("ec", "-in", str(key)).stdout)
    assert sec1.read_text().startswith("-----BEGIN SM2 PRIVATE KEY-----")
    assert load_or_create_sm2_signer(sec1, backend).public == signer.public


def test_keys_of_other_kinds_are_refused(tmp_path: Path) -> None:
    ed = Ed25519PrivateKey.generate()
    (tmp_path / "ed.key").write_bytes(
        ed.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="not an SM2 private key"):
        load_or_create_sm2_signer(tmp_path / "ed.key")
    p256 = tmp_path / "p256.key"
    assert (
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(p256)
        ).returncode
        == 0
    )
    with pytest.raises(ValueError, match="not an SM2"):
        load_or_create_sm2_signer(p256)
    ed_pub = ed.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert not is_sm2_public_key(ed_pub.decode())
    assert not is_sm2_public_key(_openssl("pkey", "-in", str(p256), "-pubout").stdout.decode())
    assert not is_sm2_public_key("not a key")
    (tmp_path / "ed.pub").write_bytes(ed_pub)
    with pytest.raises(ValueError, match="is not an SM2 public key"):
        load_sm2_public_key(tmp_path / "ed.pub")


def test_public_key_files_in_pem_or_hex() -> None:
    s = Sm2Signer.generate()
    assert parse_sm2_public_key(sm2_public_pem(s.public).decode()) == s.public
    assert parse_sm2_public_key(s.public.upper() + "\n") == s.public
    assert parse_sm2_public_key("04" + s.public) == s.public
    assert sm2_public_pem(s.public) == s.public_pem()


def _create(path: str) -> str:
    return load_or_create_sm2_signer(Path(path)).key_id


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    """Creation links the new file into place only if none is there: no worker signs with a key that
    another worker's file then replaced."""
    path = str(tmp_path / "engine.sm2.key")
    with ProcessPoolExecutor(4, mp_context=get_context("fork")) as pool:
        ids = list(pool.map(_create, [path] * 8))
    assert len(set(ids)) == 1 and _create(path) == ids[0]
    assert sorted(os.listdir(tmp_path)) == ["engine.sm2.key", "engine.sm2.key.pub"]  # no leftovers


def test_no_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm2mod, "available_backends", lambda: [])
    with pytest.raises(Sm2Unavailable, match=r"warnengine\[sm2\]"):
        Sm2Signer.generate()
    with pytest.raises(ValueError, match="unknown SM2 backend"):
        Sm2Signer.generate("openssl")
