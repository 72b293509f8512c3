"""Signed EBD data packages: warnengine's side (sign and pack) and the reader of the platform's (unpack and
verify). SM2 over the exact bytes of the EBDB file with SM3 and the default signer ID (warnengine/signing/
sm2.py); the signature document names the certificate by issuer and serial (docs/eb-platform.md)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import datetime

from warnengine.clock import Clock, SystemClock
from warnengine.signing.sm2 import Sm2Signer, verify_bytes
from warnengine.wire.eb import CST, BadEbd, Body, Ebd, Header, connection_check_id, ebd_id, ebm_id, to_xml
from warnengine.wire.eb_parse import parse_ebd
from warnengine.wire.eb_tar import Package, SignatureDoc, pack, read_signature, signature_xml, unpack


@dataclass(frozen=True)
class EbIdentity:
    """Who we are to the platform and who it is (settings, docs/eb-platform.md)."""

    src_ebrid: str  # our resource code, 23 digits
    dest_ebrid: str  # the platform's
    cert_issuer: str  # IssuerID of our certificate
    cert_sn: str  # CertSN of our certificate
    src_url: str | None = None  # where the platform posts its reports back


class DayCounter:
    """Numbers of the day for EBDID (8 digits) and EBMID (4 digits). Started from the time of day, so a
    restarted engine does not reuse the numbers it gave earlier that day (docs/eb-platform.md)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._day = ""
        self._ebd = itertools.count()
        self._ebm = itertools.count()

    def next(self) -> tuple[datetime, int, int]:
        """(now, next EBD number, next EBM number)."""
        now = datetime.fromtimestamp(self._clock.now(), CST)
        with self._lock:
            day = f"{now:%Y%m%d}"
            if day != self._day:
                second = now.hour * 3600 + now.minute * 60 + now.second
                self._day = day
                self._ebd = itertools.count(second * 1000 + 1)  # < 10^8
                self._ebm = itertools.count(second // 10 + 1)  # < 10^4
            return now, next(self._ebd), next(self._ebm)


class EbPackager:
    def __init__(self, identity: EbIdentity, signer: Sm2Signer, clock: Clock | None = None) -> None:
        self.identity = identity
        self._signer = signer
        self._clock = clock or SystemClock()
        self._counter = DayCounter(self._clock)

    @property
    def public_key_hex(self) -> str:
        return self._signer.public

    def new_ebm_id(self) -> str:
        now, _, n = self._counter.next()
        return ebm_id(self.identity.src_ebrid, now.date(), n)

    def package(self, ebd_type: str, body: Body, related_ebd_id: str | None = None) -> tuple[Ebd, bytes]:
        """The document with a new EBDID (ConnectionCheck: its fixed id), and its signed tar."""
        now, n, _ = self._counter.next()
        ident = self.identity
        if ebd_type == "ConnectionCheck":
            ebdid = connection_check_id(ident.src_ebrid)
        else:
            ebdid = ebd_id(ident.src_ebrid, now.date(), n)
        header = Header(
            ebdid, ebd_type, ident.src_ebrid, ident.dest_ebrid, now, related_ebd_id, ident.src_url
        )
        ebd = Ebd(header, body)
        return ebd, self.sign_and_pack(ebdid, to_xml(ebd), now)

    def sign_and_pack(self, ebdid: str, ebdb: bytes, now: datetime) -> bytes:
        sig = SignatureDoc(
            ebd_id=ebdid,
            issuer_id=self.identity.cert_issuer,
            cert_sn=self.identity.cert_sn,
            time=int(now.timestamp()),
            value=self._signer.sign_bytes(ebdb),
        )
        return pack(Package(ebdid, ebdb, signature_xml(sig)), now)


def open_package(data: bytes, public_key: str, cert_sn: str | None = None) -> Ebd:
    """The document of a signed package from `public_key`'s holder; BadEbd with the reason otherwise:
    not a tar or not XML (eb_bad_tar, eb_not_xml …), unsigned, or a signature that does not verify
    (eb_signature_failed) — checked before the document is read."""
    p = unpack(data)
    sig = read_signature(p.ebds)
    if sig.ebd_id != p.ebd_id:
        raise BadEbd("eb_signature_failed", f"signature is for EBD {sig.ebd_id[:64]}, not {p.ebd_id}")
    if sig.sig_alg.upper() not in ("SM2", "SM2-SM3") or sig.digest_alg.upper() not in ("SM3", ""):
        raise BadEbd("eb_signature_failed", f"algorithm {sig.sig_alg[:20]}/{sig.digest_alg[:20]}")
    if cert_sn is not None and sig.cert_sn != cert_sn:
        raise BadEbd("eb_signature_failed", f"certificate {sig.cert_sn[:40]!r} is not the platform's")
    if not verify_bytes(public_key, p.ebdb, sig.value):
        raise BadEbd("eb_signature_failed", "SM2 signature does not verify")
    ebd = parse_ebd(p.ebdb)
    if ebd.header.ebd_id != p.ebd_id:
        raise BadEbd("eb_bad_tar", f"EBDID {ebd.header.ebd_id[:64]} inside {p.ebd_id}")
    return ebd
