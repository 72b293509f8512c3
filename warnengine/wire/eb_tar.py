"""The EBD data package on the wire: a tar of `EBDB_<EBDID>.xml` and its detached signature
`EBDS_EBDB_<EBDID>.xml` (docs/eb-platform.md). No cryptography here: channels/eb_package.py signs."""

from __future__ import annotations

import base64
import binascii
import io
import re
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from warnengine.wire.eb import BadEbd, xml_bytes
from warnengine.wire.eb_parse import parse_signature_xml

MAX_PACKAGE_BYTES = 1024 * 1024  # a package is two small XML files (audio travels by URL)
MAX_MEMBER_BYTES = 256 * 1024
_EBDB = re.compile(r"^EBDB_(\d{1,64})\.xml$")


@dataclass(frozen=True)
class SignatureDoc:
    ebd_id: str
    issuer_id: str
    cert_sn: str
    time: int  # seconds since the epoch (SignatureTime, 8 hex digits)
    value: bytes  # r || s, 64 bytes
    digest_alg: str = "SM3"
    sig_alg: str = "SM2"


@dataclass(frozen=True)
class Package:
    ebd_id: str
    ebdb: bytes  # the document, exactly as signed
    ebds: bytes  # the detached signature document


def ebdb_name(ebd_id: str) -> str:
    return f"EBDB_{ebd_id}.xml"


def ebds_name(ebd_id: str) -> str:
    return f"EBDS_EBDB_{ebd_id}.xml"


def tar_name(ebd_id: str) -> str:
    return f"EBDT_{ebd_id}.tar"


def signature_xml(sig: SignatureDoc) -> bytes:
    root = ET.Element("Signature")
    ET.SubElement(root, "Version").text = "1.0"
    ET.SubElement(ET.SubElement(root, "RelatedEBD"), "EBDID").text = sig.ebd_id
    cert = ET.SubElement(root, "SignatureCert")
    ET.SubElement(cert, "CertType").text = "1"
    ET.SubElement(cert, "IssuerID").text = sig.issuer_id
    ET.SubElement(cert, "CertSN").text = sig.cert_sn
    ET.SubElement(root, "SignatureTime").text = f"{sig.time:08x}"
    ET.SubElement(root, "DigestAlgorithm").text = sig.digest_alg
    ET.SubElement(root, "SignatureAlgorithm").text = sig.sig_alg
    ET.SubElement(root, "SignatureValue").text = base64.b64encode(sig.value).decode()
    return xml_bytes(root)


def read_signature(data: bytes) -> SignatureDoc:
    """The signature document's fields; BadEbd("eb_bad_signature_doc") when they cannot be read."""
    fields = parse_signature_xml(data)
    try:
        value = base64.b64decode(fields["SignatureValue"], validate=True)
        when = int(fields.get("SignatureTime") or "0", 16)
    except (binascii.Error, ValueError):
        raise BadEbd("eb_bad_signature_doc", "SignatureValue or SignatureTime unreadable") from None
    return SignatureDoc(
        ebd_id=fields["EBDID"],
        issuer_id=fields.get("IssuerID", ""),
        cert_sn=fields.get("CertSN", ""),
        time=when,
        value=value,
        digest_alg=fields.get("DigestAlgorithm", ""),
        sig_alg=fields.get("SignatureAlgorithm", ""),
    )


def pack(p: Package, mtime: datetime | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in ((ebdb_name(p.ebd_id), p.ebdb), (ebds_name(p.ebd_id), p.ebds)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime = int(mtime.timestamp()) if mtime else 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def unpack(data: bytes) -> Package:
    """The package's two files; BadEbd when it is not a tar of exactly one EBDB file and its EBDS."""
    if len(data) > MAX_PACKAGE_BYTES:
        raise BadEbd("eb_too_large", f"{len(data)} bytes")
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar.getmembers()[:16]:
                if not m.isfile() or "/" in m.name or m.size > MAX_MEMBER_BYTES:
                    raise BadEbd("eb_bad_tar", f"unexpected member {m.name[:80]!r}")
                f = tar.extractfile(m)
                assert f is not None
                files[m.name] = f.read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BadEbd("eb_bad_tar", str(e)[:200]) from None
    ids = [match.group(1) for name in files if (match := _EBDB.match(name))]
    if len(ids) != 1:
        raise BadEbd("eb_bad_tar", f"expected one EBDB_<EBDID>.xml, found {sorted(files)[:5]}")
    ebd_id = ids[0]
    if ebds_name(ebd_id) not in files:
        raise BadEbd("eb_unsigned", f"no {ebds_name(ebd_id)}")
    return Package(ebd_id, files[ebdb_name(ebd_id)], files[ebds_name(ebd_id)])
