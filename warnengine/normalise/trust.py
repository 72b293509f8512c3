"""Per-sender trust for XML signatures, loaded from a YAML file (config/trust.yaml).

    senders:
      "<sender>":                     # CAP <sender>, or the national dialect's <senderCode>
        certificates:                 # at least one; each a PEM file path or an inline PEM block
          - certs/sender.pem          # relative paths are relative to the YAML file's folder
          - |
            -----BEGIN CERTIFICATE-----
            ...
            -----END CERTIFICATE-----
        require_signature: true       # default true: an unsigned message from this sender is rejected
        allow_sha1: false             # default false: accept RSA-SHA1 / SHA-1 digests (legacy feeds)

The certificates are pinned: a signature verifies when it was made with one of them, whatever CA issued
it (no chain building, no revocation check: removing a certificate from this file is the revocation).
A configuration error raises TrustConfigError at load time: a wrong trust file must stop startup, not
reject every message later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TrustConfigError(ValueError):
    """The trust file is unreadable, malformed, or names a certificate that cannot be loaded."""


class _SenderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo'd flag must not silently fall back to a default

    certificates: Annotated[list[str], Field(min_length=1)]
    require_signature: bool = True
    allow_sha1: bool = False


class _TrustFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    senders: dict[str, _SenderEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class TrustedSender:
    sender: str
    certificates: tuple[x509.Certificate, ...]
    require_signature: bool = True
    allow_sha1: bool = False


class TrustStore:
    """Sender → pinned certificates and policy. Immutable once built; share one instance."""

    def __init__(self, senders: Mapping[str, TrustedSender] | None = None) -> None:
        self._senders = dict(senders or {})

    @classmethod
    def load(cls, path: str | Path) -> TrustStore:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise TrustConfigError(f"{path}: {exc}") from exc
        return cls.from_dict(data or {}, base_dir=path.parent, origin=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, base_dir: Path = Path("."), origin: str = "trust") -> TrustStore:
        try:
            parsed = _TrustFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TrustConfigError(f"{origin}: {where}: {first['msg']}") from exc
        senders = {
            name: TrustedSender(
                sender=name,
                certificates=tuple(
                    cert
                    for i, item in enumerate(entry.certificates)
                    for cert in _load_certificates(
                        item, base_dir, f"{origin}: senders.{name}.certificates.{i}"
                    )
                ),
                require_signature=entry.require_signature,
                allow_sha1=entry.allow_sha1,
            )
            for name, entry in parsed.senders.items()
        }
        return cls(senders)

    def get(self, sender: str) -> TrustedSender | None:
        return self._senders.get(sender)

    def __contains__(self, sender: object) -> bool:
        return sender in self._senders

    def __len__(self) -> int:
        return len(self._senders)


def _load_certificates(item: str, base_dir: Path, where: str) -> list[x509.Certificate]:
    """Inline PEM, or a PEM file that may hold several certificates (a bundle)."""
    if item.lstrip().startswith("-----BEGIN"):
        pem = item.encode()
    else:
        path = base_dir / item
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise TrustConfigError(f"{where}: cannot read {path}: {exc.strerror}") from exc
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TrustConfigError(f"{where}: not a PEM certificate: {exc}") from exc
