"""Signed EBD packages: what we pack opens with our public key and nothing else; a signature document
that names another EBD, another certificate or another algorithm fails like a bad signature."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime

import pytest

from channels.eb_package import EbIdentity, EbPackager, open_package
from tests.fakes.eb_platform import make_tar
from warnengine.clock import ManualClock
from warnengine.signing.sm2 import Sm2Signer
from warnengine.wire.eb import BadEbd, ConnectionCheck, EbdResponse

EBRID = "33411220000000100000001"


def _members(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]


@pytest.fixture
def packager() -> EbPackager:
    clock = ManualClock(datetime(2026, 7, 1, 8, tzinfo=UTC).timestamp())
    return EbPackager(
        EbIdentity(EBRID, "0" * 23, "000000000075", "000000003363"), Sm2Signer.generate(), clock
    )


def test_ids_are_new_per_package_and_the_heartbeat_has_its_own(packager: EbPackager) -> None:
    a, _ = packager.package("EBDResponse", EbdResponse(1))
    b, _ = packager.package("EBDResponse", EbdResponse(1))
    beat = ConnectionCheck(datetime(2026, 7, 1, 8, 0, 5, tzinfo=UTC))
    check, tar = packager.package("ConnectionCheck", beat)
    assert a.header.ebd_id != b.header.ebd_id and a.header.ebd_id[25:33] == "20260701"  # the day in Beijing
    assert check.header.ebd_id == "01" + EBRID + "0" * 16
    assert open_package(tar, packager.public_key_hex, "000000003363") == check


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<CertSN>000000003363</CertSN>", b"<CertSN>000000009999</CertSN>"),  # another certificate
        (b"<SignatureAlgorithm>SM2</SignatureAlgorithm>", b"<SignatureAlgorithm>RSA</SignatureAlgorithm>"),
        (b"<EBDID>10", b"<EBDID>11"),  # a signature for another package
    ],
)
def test_signature_document_must_match(packager: EbPackager, old: bytes, new: bytes) -> None:
    ebd, tar = packager.package("EBDResponse", EbdResponse(1))
    files = _members(tar)
    name = f"EBDS_EBDB_{ebd.header.ebd_id}.xml"
    assert old in files[name]
    files[name] = files[name].replace(old, new)
    with pytest.raises(BadEbd) as caught:
        open_package(make_tar(files), packager.public_key_hex, "000000003363")
    assert caught.value.reason == "eb_signature_failed"


def test_tampered_document_or_another_key(packager: EbPackager) -> None:
    ebd, tar = packager.package("EBDResponse", EbdResponse(1, "ok"))
    with pytest.raises(BadEbd, match="does not verify"):
        open_package(tar, Sm2Signer.generate().public)
    files = _members(tar)
    name = f"EBDB_{ebd.header.ebd_id}.xml"
    files[name] = files[name].replace(b"<ResultCode>1<", b"<ResultCode>4<")
    with pytest.raises(BadEbd, match="does not verify"):
        open_package(make_tar(files), packager.public_key_hex)
