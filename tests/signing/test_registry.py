"""Signing per terminal: the engine's Signers (Ed25519 always, SM2 on first use) and a terminal's Verifiers,
which accept only the algorithms the terminal holds keys for (no downgrade, no upgrade)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.directory.parse import SIG_ALGS
from warnengine.model.grid import SigAlg
from warnengine.signing import (
    ALGS,
    ED25519,
    SM2_SM3,
    CommandVerifier,
    Signer,
    Signers,
    SigningUnavailable,
    Verifier,
    Verifiers,
    load_or_create_signer,
    load_verifiers,
    public_path,
)
from warnengine.signing.sm2 import Sm2Signer, Sm2Verifier, load_or_create_sm2_signer

CMD = {"id": "d-1", "action": "play", "text": "山洪红色预警", "priority": 9, "nonce": "n"}


@pytest.fixture(scope="module")
def ed() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def sm2() -> Sm2Signer:
    return Sm2Signer.generate()


def test_one_list_of_algorithms() -> None:
    assert ALGS == get_args(SigAlg) == SIG_ALGS == (ED25519, SM2_SM3)


def test_signers_sign_with_the_algorithm_asked(ed: Signer, sm2: Sm2Signer) -> None:
    signers = Signers(ed, sm2)
    a, b = signers.sign(CMD), signers.sign(CMD, SM2_SM3)
    assert "alg" not in a and a["key_id"] == ed.key_id  # Ed25519 commands are as they always were
    assert b["alg"] == SM2_SM3 and b["key_id"] == sm2.key_id
    assert Verifier([ed.public]).verify(a) is None
    assert Sm2Verifier([sm2.public]).verify(b) is None
    with pytest.raises(SigningUnavailable, match="unknown signature algorithm"):
        signers.sign(CMD, "rsa")
    assert Signers.of(ed).ed25519 is ed and Signers.of(signers) is signers


@pytest.mark.parametrize(
    ("trusts", "ed25519_reason", "sm2_reason"),
    [
        ({ED25519}, None, "unsupported_alg"),
        ({SM2_SM3}, "unsupported_alg", None),
        ({ED25519, SM2_SM3}, None, None),
    ],
)
def test_a_terminal_accepts_only_its_algorithms(
    ed: Signer, sm2: Sm2Signer, trusts: set[str], ed25519_reason: str | None, sm2_reason: str | None
) -> None:
    by_alg: dict[str, CommandVerifier] = {ED25519: Verifier([ed.public]), SM2_SM3: Sm2Verifier([sm2.public])}
    v = Verifiers({a: by_alg[a] for a in trusts})
    assert v.verify(ed.sign(CMD)) == ed25519_reason
    assert v.verify(sm2.sign(CMD)) == sm2_reason
    # The usual reasons still come first or from the algorithm's own verifier.
    assert v.verify(CMD) == "unsigned"
    for alg, signer in ((ED25519, ed.sign(CMD)), (SM2_SM3, sm2.sign(CMD))):
        if alg in trusts:
            assert v.verify({**signer, "priority": 1}) == "bad_signature"
            assert v.verify({**signer, "key_id": "0" * 16}) == "unknown_key"
    # An Ed25519 command relabelled as SM2 (or any other algorithm) does not verify.
    assert v.verify({**ed.sign(CMD), "alg": SM2_SM3}) in ("unknown_key", "unsupported_alg")
    assert v.verify({**ed.sign(CMD), "alg": ["ed25519"]}) == "unsupported_alg"


def test_an_ed25519_verifier_alone_refuses_other_algorithms(ed: Signer, sm2: Sm2Signer) -> None:
    assert Verifier([ed.public]).verify(sm2.sign(CMD)) == "unsupported_alg"
    assert (
        Verifier([ed.public]).verify({**ed.sign(CMD), "alg": "ed25519"}) == "bad_signature"
    )  # alg is signed


def test_verifiers_need_a_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Verifiers({})
    with pytest.raises(ValueError, match="unknown signature algorithm"):
        Verifiers({"rsa": Verifier([])})


def test_terminal_keys_are_told_apart_by_content(tmp_path: Path) -> None:
    ed = load_or_create_signer(tmp_path / "engine.key")
    sm2 = load_or_create_sm2_signer(tmp_path / "engine.sm2.key")
    (tmp_path / "sm2.hex").write_text(sm2.public + "\n")
    ed_pub, sm2_pub = public_path(tmp_path / "engine.key"), public_path(tmp_path / "engine.sm2.key")
    only_sm2 = load_verifiers([sm2_pub])
    assert only_sm2.algs == (SM2_SM3,)
    assert only_sm2.verify(sm2.sign(CMD)) is None and only_sm2.verify(ed.sign(CMD)) == "unsupported_alg"
    assert load_verifiers([tmp_path / "sm2.hex"]).verify(sm2.sign(CMD)) is None
    both = load_verifiers([ed_pub, sm2_pub])
    assert both.algs == (ED25519, SM2_SM3)
    assert both.verify(sm2.sign(CMD)) is None and both.verify(ed.sign(CMD)) is None
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(ValueError):
        load_verifiers([tmp_path / "junk.pub"])


def test_the_sm2_key_is_made_on_first_use(tmp_path: Path, ed: Signer) -> None:
    path = tmp_path / "keys" / "engine.sm2.key"
    signers = Signers(ed, sm2_key_file=path)
    assert not path.exists()  # a county without SM2 terminals never needs it
    cmd = signers.sign(CMD, SM2_SM3)
    assert path.exists() and public_path(path).exists()
    assert load_verifiers([public_path(path)]).verify(cmd) is None
    assert Signers(ed, sm2_key_file=path).sm2().key_id == cmd["key_id"]  # the next start reads it


def test_without_an_sm2_key_signing_fails_with_the_reason(tmp_path: Path, ed: Signer) -> None:
    with pytest.raises(SigningUnavailable, match="no SM2 key file"):
        Signers(ed).sign(CMD, SM2_SM3)
    blocked = tmp_path / "file"
    blocked.write_text("")
    signers = Signers(ed, sm2_key_file=blocked / "engine.sm2.key", retry_s=3600)  # parent is a file
    with pytest.raises(SigningUnavailable, match="sm2-sm3: ") as first:
        signers.sign(CMD, SM2_SM3)
    blocked.unlink()  # fixed: but the failure is remembered for retry_s, not retried per command
    with pytest.raises(SigningUnavailable) as again:
        signers.sign(CMD, SM2_SM3)
    assert str(again.value) == str(first.value)
    assert (
        Signers(ed, sm2_key_file=blocked / "engine.sm2.key", retry_s=0).sign(CMD, SM2_SM3)["alg"] == SM2_SM3
    )
    assert signers.sign(CMD)["key_id"] == ed.key_id  # Ed25519 is unaffected
