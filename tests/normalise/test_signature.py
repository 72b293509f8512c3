"""XML-DSig verification against pinned per-sender certificates (warnengine/normalise/signature.py)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from warnengine.normalise import (
    FeedError,
    SignatureStatus,
    TrustConfigError,
    TrustStore,
    parse_feed,
    parse_feed_checked,
    verify_signature,
)

SAMPLES = Path(__file__).parent / "samples"
REPO = Path(__file__).resolve().parents[2]

BF = "bf_anam_thunderstorm_signed_fr.xml"
BF_SENDER = "https://www.meteoburkina.bf/"
TG = "invalid_tg_bad_signature.xml"
NAADS = "ca_naads_signed_cap12.xml"
IPAWS = "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml"
A2 = "oasis_cap12_spec_appendix_A2.xml"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def embedded_pems(raw: bytes) -> list[str]:
    """Every <X509Certificate> in the message's KeyInfo(s), as PEM."""
    found = re.findall(rb"<(?:ds:)?X509Certificate>([^<]+)</", raw)
    certs = [x509.load_der_x509_certificate(base64.b64decode(b"".join(f.split()))) for f in found]
    return [c.public_bytes(Encoding.PEM).decode() for c in certs]


def trust_for(sender: str, pem_file: Path, **policy: bool) -> TrustStore:
    return TrustStore.from_dict(
        {"senders": {sender: {"certificates": [pem_file.name], **policy}}}, base_dir=pem_file.parent
    )


@pytest.fixture
def bf_trust(tmp_path: Path) -> TrustStore:
    pem = tmp_path / "meteoburkina.pem"
    pem.write_text(embedded_pems(sample(BF))[0])
    return trust_for(BF_SENDER, pem)


def reject(raw: bytes, trust: TrustStore) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, "test", trust)
    return caught.value


def test_burkina_verifies_with_its_own_certificate(bf_trust: TrustStore) -> None:
    w, verdict = parse_feed_checked(sample(BF), "test", bf_trust)
    assert verdict.status is SignatureStatus.VERIFIED and verdict.accepted
    assert verdict.signer == "CN=www.meteoburkina.bf"
    # The file was pretty-printed after signing: it verifies only with whitespace-only text removed,
    # as the WMO CAP validator (its source) verifies it too.
    assert verdict.whitespace_normalised
    assert w.sender == BF_SENDER and w.source == "test"


def test_one_changed_character_breaks_it(bf_trust: TrustStore) -> None:
    raw = sample(BF).replace(b"<description>Comme", b"<description>Comma", 1)
    err = reject(raw, bf_trust)
    assert err.reason == "signature_invalid"
    assert "InvalidDigest" in err.detail  # signxml's reason is carried into the detail


def test_certificate_of_another_sender_fails(tmp_path: Path) -> None:
    pem = tmp_path / "ipaws.pem"
    pem.write_text(embedded_pems(sample(IPAWS))[0])
    err = reject(sample(BF), trust_for(BF_SENDER, pem))
    assert err.reason == "signature_invalid"


def test_togo_bad_signature_fails(tmp_path: Path) -> None:
    # Its only defect: the last base64 character of SignatureValue ("…nlh==") has non-zero padding bits.
    # A lenient decoder gets the right bytes (the ECDSA value itself would verify); the XML-DSig schema
    # (xs:base64Binary) refuses it, and signxml validates the schema, so it is signature_invalid.
    # (Its certificate was also not yet valid at its <sent> time, 2024-06-06; the schema fails first.)
    pem = tmp_path / "togo.pem"
    pem.write_text(embedded_pems(sample(TG))[0])
    err = reject(sample(TG), trust_for("meteo_togo@yahoo.fr", pem))
    assert err.reason == "signature_invalid" and "base64Binary" in err.detail


@pytest.mark.parametrize("index", [0, 1])
def test_naads_does_not_verify_with_either_embedded_certificate(tmp_path: Path, index: int) -> None:
    # What is true here, found by taking the message apart:
    # - it carries two sibling signatures, NAADS's (first) then Environment Canada's; signxml checks the
    #   first <Signature> only, and its Id "NAADS Signature" (a space) is not a valid xs:ID, so the
    #   schema check rejects it before any cryptography — that is the reason we report;
    # - NAADS's digest covers the message *without* Environment Canada's signature, which is still there,
    #   so even a lenient verifier must fail it; Environment Canada's signature verifies only once the
    #   later NAADS signature is cut out, which an enveloped signature does not allow;
    # - it is RSA-SHA1, refused unless allow_sha1 (set here so SHA-1 is not the reason).
    pem = tmp_path / "naads.pem"
    pem.write_text(embedded_pems(sample(NAADS))[index])
    err = reject(sample(NAADS), trust_for("cap-pac@ec.gc.ca", pem, allow_sha1=True))
    assert err.reason == "signature_invalid" and "xs:ID" in err.detail


def test_ipaws_cancel_verifies_with_its_embedded_certificate(tmp_path: Path) -> None:
    # RSA-SHA256, exclusive c14n, no whitespace: verifies as received. Its certificate expired in 2022;
    # validity is checked at the message's <sent> time (2019-04-19), when it was valid.
    pem = tmp_path / "ipaws.pem"
    pem.write_text(embedded_pems(sample(IPAWS))[0])
    _, verdict = parse_feed_checked(sample(IPAWS), "test", trust_for("bbrundage@dps.state.nv.us", pem))
    assert verdict.status is SignatureStatus.VERIFIED and not verdict.whitespace_normalised


def test_sample_trust_file_verifies_ipaws() -> None:
    trust = TrustStore.load(REPO / "config" / "trust.yaml")
    assert parse_feed_checked(sample(IPAWS), "test", trust)[1].status is SignatureStatus.VERIFIED


def test_sha1_is_refused_unless_allowed(tmp_path: Path) -> None:
    # Environment Canada's own signature is valid RSA-SHA1 once the outer NAADS signature is removed and
    # its Id made a valid xs:ID (the Id sits outside SignedInfo and the enveloped transform drops the
    # whole <Signature>, so renaming it changes nothing signed): a real legacy SHA-1 signature.
    raw = sample(NAADS)
    start = raw.index(b'<Signature Id="NAADS Signature"')
    end = raw.index(b"</Signature>", start) + len(b"</Signature>")
    ec_only = (raw[:start] + raw[end:]).replace(b'Id="Environment Canada"', b'Id="Environment_Canada"')
    pem = tmp_path / "ec.pem"
    pem.write_text(embedded_pems(raw)[1])
    err = reject(ec_only, trust_for("cap-pac@ec.gc.ca", pem))
    assert err.reason == "signature_invalid" and "SHA1" in err.detail
    _, verdict = parse_feed_checked(ec_only, "test", trust_for("cap-pac@ec.gc.ca", pem, allow_sha1=True))
    assert verdict.status is SignatureStatus.VERIFIED


def test_signed_but_sender_not_configured_is_accepted_unverified(bf_trust: TrustStore) -> None:
    w, verdict = parse_feed_checked(sample(TG), "test", bf_trust)
    assert verdict.status is SignatureStatus.UNVERIFIED and verdict.accepted
    assert "not checked" in verdict.detail and w.sender == "meteo_togo@yahoo.fr"


def test_unsigned_message_of_a_configured_sender(tmp_path: Path) -> None:
    pem = tmp_path / "a.pem"
    pem.write_text(embedded_pems(sample(BF))[0])
    required = trust_for("KSTO@NWS.NOAA.GOV", pem)
    err = reject(sample(A2), required)
    assert err.reason == "signature_missing" and "KSTO@NWS.NOAA.GOV" in err.detail
    optional = trust_for("KSTO@NWS.NOAA.GOV", pem, require_signature=False)
    assert parse_feed_checked(sample(A2), "t", optional)[1].status is SignatureStatus.UNSIGNED


def test_no_trust_store_checks_nothing() -> None:
    assert parse_feed_checked(sample(TG), "test")[1].status is SignatureStatus.NOT_CHECKED


def test_partial_reference_is_refused(bf_trust: TrustStore) -> None:
    raw = sample(BF).replace(b'<ds:Reference URI=""', b'<ds:Reference URI="#info"', 1)
    err = reject(raw, bf_trust)
    assert err.reason == "signature_invalid" and "whole message" in err.detail


def test_verify_signature_standalone(bf_trust: TrustStore) -> None:
    sent = datetime(2024, 7, 2, 20, 10, tzinfo=UTC)
    verdict = verify_signature(sample(BF), sender=BF_SENDER, sent=sent, trust=bf_trust)
    assert verdict.status is SignatureStatus.VERIFIED
    expired = verify_signature(
        sample(BF), sender=BF_SENDER, sent=datetime(2026, 1, 1, tzinfo=UTC), trust=bf_trust
    )
    assert expired.status is SignatureStatus.INVALID and "expired" in expired.detail
    garbage = verify_signature(b"<a><!DOCTYPE", sender="x", sent=sent, trust=bf_trust)
    assert garbage.status is SignatureStatus.INVALID


def test_json_from_a_sender_that_must_sign_is_rejected(tmp_path: Path) -> None:
    pem = tmp_path / "a.pem"
    pem.write_text(embedded_pems(sample(BF))[0])
    raw = (
        b'{"sender": "s1", "identifier": "i1", "sent": "2024-07-01T08:00:00+08:00", "hazard": "flood",'
        b' "severity": "red", "event": "x", "areas": [{"codes": ["1"]}]}'
    )
    assert reject(raw, trust_for("s1", pem)).reason == "signature_missing"


# --- the trust file --------------------------------------------------------------------------------


def test_trust_file_with_files_and_inline_pem(tmp_path: Path) -> None:
    bf_pem, ipaws_pem = embedded_pems(sample(BF))[0], embedded_pems(sample(IPAWS))[0]
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "bundle.pem").write_text(bf_pem + ipaws_pem)
    inline = "\n".join("      " + line for line in ipaws_pem.splitlines())
    (tmp_path / "trust.yaml").write_text(
        f"senders:\n  a:\n    certificates: [certs/bundle.pem]\n    allow_sha1: true\n"
        f"  b:\n    require_signature: false\n    certificates:\n    - |\n{inline}\n"
    )
    trust = TrustStore.load(tmp_path / "trust.yaml")
    a, b = trust.get("a"), trust.get("b")
    assert a is not None and len(a.certificates) == 2 and a.allow_sha1 and a.require_signature
    assert b is not None and len(b.certificates) == 1 and not b.require_signature and not b.allow_sha1
    assert "a" in trust and len(trust) == 2 and trust.get("c") is None


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ("senders:\n  a:\n    certificates: []\n", "senders.a.certificates"),
        ("senders:\n  a:\n    certificates: [missing.pem]\n", "cannot read"),
        ("senders:\n  a:\n    certificates: ['-----BEGIN CERTIFICATE-----\nxx']\n", "not a PEM"),
        ("senders:\n  a:\n    certificates: [x.pem]\n    require_signatures: true\n", "require_signatures"),
        ("senders: [", "trust.yaml"),
    ],
)
def test_bad_trust_file(tmp_path: Path, yaml_text: str, words: str) -> None:
    (tmp_path / "x.pem").write_text(embedded_pems(sample(BF))[0])
    (tmp_path / "trust.yaml").write_text(yaml_text)
    with pytest.raises(TrustConfigError) as caught:
        TrustStore.load(tmp_path / "trust.yaml")
    assert words in str(caught.value)
