"""Signing of loudspeaker commands over canonical bytes (design decision 5): Ed25519 here, SM2/SM3 in
`sm2.py`, chosen per terminal (`devices.sig_alg`) through `Signers` and `Verifiers`.

Canonical bytes: the command as JSON without `sig`, keys sorted, no whitespace, UTF-8. Both the engine and
terminals compute them the same way, so any field change breaks the signature.

An Ed25519 command carries no `alg` (terminals built before SM2 existed keep working); an SM2 one carries
`alg: "sm2-sm3"`, inside the signed bytes. A terminal accepts only the algorithms it holds keys for: an
SM2 terminal refuses an Ed25519 command (`unsupported_alg`), and the other way round.
"""

from warnengine.signing.canonical import (
    ALGS,
    ED25519,
    SM2_SM3,
    CommandVerifier,
    SigningUnavailable,
    canonical_bytes,
)
from warnengine.signing.ed25519 import (
    Signer,
    Verifier,
    key_id,
    load_or_create_signer,
    load_public_keys,
    public_path,
)
from warnengine.signing.registry import Signers, Verifiers, load_verifiers

__all__ = [
    "ALGS",
    "ED25519",
    "SM2_SM3",
    "CommandVerifier",
    "Signer",
    "Signers",
    "SigningUnavailable",
    "Verifier",
    "Verifiers",
    "canonical_bytes",
    "key_id",
    "load_or_create_signer",
    "load_public_keys",
    "load_verifiers",
    "public_path",
]
