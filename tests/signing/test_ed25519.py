from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.signing import Signer, Verifier, load_or_create_signer, load_public_keys, public_path


def test_sign_verify_and_tamper() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    cmd = signer.sign({"id": "d-1", "action": "play", "text": "暴雨红色预警", "priority": 9})
    v = Verifier([signer.public])
    assert v.verify(cmd) is None
    assert v.verify({**cmd, "priority": 1}) == "bad_signature"
    assert v.verify({k: x for k, x in cmd.items() if k != "sig"}) == "unsigned"
    assert v.verify({**cmd, "sig": "!!notbase64"}) == "bad_signature"
    other = Signer(Ed25519PrivateKey.generate())
    assert Verifier([other.public]).verify(cmd) == "unknown_key"


def test_key_rotation_two_trusted_keys() -> None:
    old, new = Signer(Ed25519PrivateKey.generate()), Signer(Ed25519PrivateKey.generate())
    v = Verifier([old.public, new.public])
    assert v.verify(old.sign({"id": "a"})) is None
    assert v.verify(new.sign({"id": "b"})) is None


def test_key_file_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "engine.key"
    a = load_or_create_signer(path)
    assert path.stat().st_mode & 0o077 == 0
    b = load_or_create_signer(path)
    assert a.key_id == b.key_id
    [pub] = load_public_keys([public_path(path)])
    assert Verifier([pub]).verify(a.sign({"id": "x"})) is None
