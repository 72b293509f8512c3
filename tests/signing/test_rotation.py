"""Signing-key rotation on real key files: terminals trusting the published set accept the old and the new
key during the overlap, only the new one after `retire`; the engine signs with the new key after
`activate`; every step is idempotent and no private key is lost without `destroy_private`."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from warnengine.settings import Settings
from warnengine.signing import ED25519, SM2_SM3, Signers, load_or_create_signer, load_verifiers
from warnengine.signing.rotation import (
    activate,
    ensure_key,
    key_set,
    retire,
    rotate,
    status,
    trusted_public_keys,
)

ALGS = [ED25519, SM2_SM3]


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


def engine_signs(s: Settings, alg: str, n: int) -> dict[str, Any]:
    """A command signed as a worker signs it: the key files loaded at start (pipeline/resources.py)."""
    signers = Signers(load_or_create_signer(s.key_file()), sm2_key_file=s.sm2_key_file())
    return signers.sign({"cmd_id": f"c{n}", "village": "511702001001", "text": "撤离 evacuate"}, alg)


def terminal(s: Settings) -> Any:
    """A terminal given the published key set (what the farm and `warnengine speaker` load by default)."""
    return load_verifiers(trusted_public_keys(s))


@pytest.mark.parametrize("alg", ALGS)
def test_overlap_activate_retire(tmp_path: Path, alg: str) -> None:
    s = settings(tmp_path)
    ks = key_set(s, alg)
    ensure_key(key_set(s, ED25519))  # the Ed25519 key always exists; SM2 beside it
    old, _ = ensure_key(ks)
    before = engine_signs(s, alg, 1)
    assert before["key_id"] == old

    new, created = rotate(ks)
    assert created and new != old
    # Pending: published, but the engine still signs with the old key.
    assert engine_signs(s, alg, 2)["key_id"] == old
    overlap = terminal(s)
    assert overlap.verify(before) is None

    assert activate(ks) == (old, new)
    after = engine_signs(s, alg, 3)
    assert after["key_id"] == new
    # During the overlap a terminal holding both keys accepts either.
    assert overlap.verify(after) is None
    assert overlap.verify(before) is None
    assert terminal(s).verify(before) is None  # the old key is still published after activate

    assert retire(ks, old) == [ks.published_file(old)]
    only_new = terminal(s)
    assert only_new.verify(after) is None
    assert only_new.verify(before) == "unknown_key"
    # A forged command claiming the new key id but signed with the old key is no better.
    assert only_new.verify({**before, "key_id": new}) == "bad_signature"


@pytest.mark.parametrize("alg", ALGS)
def test_every_step_idempotent_and_no_private_key_lost(tmp_path: Path, alg: str) -> None:
    s = settings(tmp_path)
    ks = key_set(s, alg)
    old, created = ensure_key(ks)
    assert created
    assert ensure_key(ks) == (old, False)
    old_private = ks.key_file.read_bytes()

    new, _ = rotate(ks)
    assert rotate(ks) == (new, False)
    assert activate(ks) is not None
    assert activate(ks) is None  # nothing pending: nothing changed
    assert status(ks)["active"] == new and status(ks)["pending"] is None

    kept = ks.retired / f"{ks.key_file.name}.{old}"
    assert kept.read_bytes() == old_private
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(ks.key_file.stat().st_mode) == 0o600

    assert retire(ks, old) == [ks.published_file(old)]
    assert retire(ks, old) == []
    assert kept.exists()  # retiring the public key keeps the private one
    assert status(ks)["retired_private"] == [old]
    removed = retire(ks, old, destroy_private=True)
    assert kept in removed and not kept.exists()
    assert status(ks)["published"] == [new]


def test_active_and_pending_keys_cannot_be_retired(tmp_path: Path) -> None:
    s = settings(tmp_path)
    ks = key_set(s)
    active, _ = ensure_key(ks)
    pending, _ = rotate(ks)
    with pytest.raises(ValueError, match="active"):
        retire(ks, active)
    with pytest.raises(ValueError, match="pending"):
        retire(ks, pending)
    assert sorted(status(ks)["published"]) == sorted([active, pending])


def test_rotate_needs_an_active_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="warnengine init"):
        rotate(key_set(settings(tmp_path)))


def test_without_a_published_set_terminals_trust_the_active_keys(tmp_path: Path) -> None:
    s = settings(tmp_path)
    signer = load_or_create_signer(s.key_file())  # as `warnengine up` makes it, nothing published
    assert trusted_public_keys(s) == [s.key_file().with_name("engine.key.pub")]
    assert terminal(s).verify(signer.sign({"cmd_id": "c"})) is None


def test_ed25519_only_terminals_skip_published_sm2_keys(tmp_path: Path) -> None:
    s = settings(tmp_path)
    ed, _ = ensure_key(key_set(s, ED25519))
    sm2, _ = ensure_key(key_set(s, SM2_SM3))
    names = [p.name for p in trusted_public_keys(s, sm2=False)]
    assert names == [f"{ED25519}-{ed}.pub"]
    assert {p.name for p in trusted_public_keys(s)} == {f"{ED25519}-{ed}.pub", f"{SM2_SM3}-{sm2}.pub"}
