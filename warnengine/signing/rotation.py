"""Signing keys on disk: created once, published to terminals, rotated with an overlap (docs/operations.md).

Per algorithm (`KeySet`), beside the active private key `engine.key` (or `engine.sm2.key`):

- `engine.key.pub`: its public key, as before;
- `engine.key.next` (+ `.pub`): the pending key `rotate` made; the engine does not sign with it yet;
- `published/<alg>-<kid>.pub`: the trusted set given to terminals — the active key, the pending one, and
  old ones until `retire` removes them. A terminal trusting the whole set accepts the old and the new key
  during the overlap (`trusted_public_keys`);
- `retired/engine.key.<kid>` (0600): a private key `activate` replaced. Kept: only `retire --destroy-private`
  deletes it.

Every operation is idempotent and says whether it changed anything; none overwrites a private key.
Workers load the active key at start, so `activate` takes effect as each worker restarts (rolling restarts
are safe: terminals trust both keys until the old one is retired).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warnengine.settings import Settings
from warnengine.signing.canonical import ED25519, SM2_SM3
from warnengine.signing.ed25519 import key_id, load_or_create_signer, load_public_keys, public_path
from warnengine.signing.sm2 import load_or_create_sm2_signer
from warnengine.signing.sm2_keys import load_sm2_public_key, sm2_key_id


@dataclass(frozen=True)
class KeySet:
    alg: str
    key_file: Path  # the active private key
    published: Path  # directory of the public keys terminals trust

    @property
    def next_file(self) -> Path:
        return self.key_file.with_name(self.key_file.name + ".next")

    @property
    def retired(self) -> Path:
        return self.key_file.parent / "retired"

    def published_file(self, kid: str) -> Path:
        return self.published / f"{self.alg}-{kid}.pub"


def published_dir(settings: Settings) -> Path:
    return settings.key_file().parent / "published"


def key_set(settings: Settings, alg: str = ED25519) -> KeySet:
    if alg not in (ED25519, SM2_SM3):
        raise ValueError(f"unknown signature algorithm {alg!r}")
    key = settings.key_file() if alg == ED25519 else settings.sm2_key_file()
    return KeySet(alg, key, published_dir(settings))


def public_kid(alg: str, public_file: Path) -> str:
    if alg == ED25519:
        return key_id(load_public_keys([public_file])[0])
    return sm2_key_id(load_sm2_public_key(public_file))


def _load_or_create(alg: str, path: Path) -> str:
    """The key id of the private key at `path`, created (0600, with `.pub`) if there is none."""
    if alg == ED25519:
        return load_or_create_signer(path).key_id
    return load_or_create_sm2_signer(path).key_id


def _publish(ks: KeySet, private: Path) -> bool:
    kid = public_kid(ks.alg, public_path(private))
    dest = ks.published_file(kid)
    if dest.exists():
        return False
    ks.published.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(public_path(private).read_bytes())
    os.replace(tmp, dest)
    return True


def ensure_key(ks: KeySet) -> tuple[str, bool]:
    """(key id, created): the active key, created if missing (never overwritten), and published."""
    created = not ks.key_file.exists()
    kid = _load_or_create(ks.alg, ks.key_file)
    if not public_path(ks.key_file).exists():  # a key installed without its .pub
        raise ValueError(f"{public_path(ks.key_file)} is missing: install the public key beside the key")
    created = _publish(ks, ks.key_file) or created
    return kid, created


def rotate(ks: KeySet) -> tuple[str, bool]:
    """(pending key id, created): a new key beside the active one, published at once; signing stays with
    the active key until `activate`. A second call returns the same pending key."""
    if not ks.key_file.exists():
        raise ValueError(f"no active key {ks.key_file}: run `warnengine init` first")
    created = not ks.next_file.exists()
    kid = _load_or_create(ks.alg, ks.next_file)
    _publish(ks, ks.key_file)
    created = _publish(ks, ks.next_file) or created
    return kid, created


def activate(ks: KeySet) -> tuple[str, str] | None:
    """(old key id, new key id): the pending key becomes the active one; the old private key moves to
    `retired/` and its public key stays published. None when there is no pending key."""
    if not ks.next_file.exists():
        return None
    old = public_kid(ks.alg, public_path(ks.key_file))
    new = _load_or_create(ks.alg, ks.next_file)
    _publish(ks, ks.next_file)  # never activate a key terminals were not given
    ks.retired.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = ks.retired / f"{ks.key_file.name}.{old}"
    if not kept.exists():
        tmp = kept.with_name(f".{kept.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(ks.key_file.read_bytes())
        os.replace(tmp, kept)
        shutil.copyfile(public_path(ks.key_file), public_path(kept))
    os.replace(ks.next_file, ks.key_file)
    os.replace(public_path(ks.next_file), public_path(ks.key_file))
    return old, new


def retire(ks: KeySet, kid: str, destroy_private: bool = False) -> list[Path]:
    """Removes key `kid` from the published set (and, only with `destroy_private`, its retired private
    key). The active and the pending key cannot be retired. Returns the files removed (none: done before)."""
    if kid == public_kid(ks.alg, public_path(ks.key_file)):
        raise ValueError(f"{kid} is the active {ks.alg} key: rotate and activate another first")
    if ks.next_file.exists() and kid == public_kid(ks.alg, public_path(ks.next_file)):
        raise ValueError(f"{kid} is the pending {ks.alg} key: activate it, or delete {ks.next_file}")
    gone = [ks.published_file(kid)]
    if destroy_private:
        kept = ks.retired / f"{ks.key_file.name}.{kid}"
        gone += [kept, public_path(kept)]
    removed = [p for p in gone if p.exists()]
    for p in removed:
        p.unlink()
    return removed


def status(ks: KeySet) -> dict[str, Any]:
    def kid_of(private: Path) -> str | None:
        return public_kid(ks.alg, public_path(private)) if public_path(private).exists() else None

    prefix = f"{ks.alg}-"
    kept = [p for p in ks.retired.glob(f"{ks.key_file.name}.*") if p.suffix != ".pub"]
    return {
        "alg": ks.alg,
        "key_file": str(ks.key_file),
        "active": kid_of(ks.key_file),
        "pending": kid_of(ks.next_file),
        "published": sorted(p.name[len(prefix) : -len(".pub")] for p in ks.published.glob(f"{prefix}*.pub")),
        "retired_private": sorted(p.name.rsplit(".", 1)[1] for p in kept),
    }


def trusted_public_keys(settings: Settings, sm2: bool = True) -> list[Path]:
    """The public key files a terminal trusts: the published set when there is one (every key of an
    overlap), else the active keys' `.pub` (an installation that never ran `init` or `keys rotate`).
    `sm2`: include SM2 keys (a verifier for them needs an SM2 implementation)."""
    published = sorted(published_dir(settings).glob("*.pub"))
    if not sm2:
        published = [p for p in published if not p.name.startswith(f"{SM2_SM3}-")]
    if published:
        return published
    keys = [public_path(settings.key_file())]
    if sm2 and public_path(settings.sm2_key_file()).exists():
        keys.append(public_path(settings.sm2_key_file()))
    return keys
