"""Issue 3's bad input list: each case is a FeedError with a stable reason, never another exception."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from warnengine.normalise import FeedError, SignatureStatus, TrustStore, parse_feed, parse_feed_checked
from warnengine.normalise.parse import MAX_FEED_BYTES

SAMPLES = Path(__file__).parent / "samples"
A2 = (SAMPLES / "oasis_cap12_spec_appendix_A2.xml").read_bytes()
USGS11 = (SAMPLES / "us_usgs_earthquake_cap11.xml").read_bytes()
NATIONAL = (SAMPLES / "cn_national_ewrs_henan_gale_blue_update_non-cap.xml").read_bytes()
IPAWS = (SAMPLES / "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml").read_bytes()
A2_POLYGON = b"<polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14</polygon>"


def reject(raw: bytes, max_bytes: int = MAX_FEED_BYTES) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source="test", max_bytes=max_bytes)
    return caught.value


def body(xml: bytes) -> bytes:
    """The document without its XML declaration, ready to be embedded."""
    return xml.split(b"?>", 1)[1].strip() if xml.startswith(b"<?xml") else xml


# --- size ------------------------------------------------------------------------------------------


def test_oversized_is_refused_unread() -> None:
    err = reject(b"<" + b"\x00" * MAX_FEED_BYTES)  # garbage: refused for its size, not its content
    assert err.reason == "too_large" and f"limit is {MAX_FEED_BYTES}" in err.detail


def test_size_limit_is_a_parameter() -> None:
    assert reject(A2, max_bytes=len(A2) - 1).reason == "too_large"
    assert parse_feed(A2, "test", max_bytes=len(A2)).identifier == "KSTO1055887203"


# --- namespace, root, encoding, garbage ------------------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    [
        "urn:oasis:names:tc:emergency:cap:1.3",
        "urn:oasis:names:tc:emergency:CAP:1.2",  # namespaces are case-sensitive
        "urn:oasis:names:tc:emergency:cap:1.2 ",
        "http://www.example.org/alert",
    ],
)
def test_wrong_namespace(namespace: str) -> None:
    raw = A2.replace(b"urn:oasis:names:tc:emergency:cap:1.2", namespace.encode())
    err = reject(raw)
    assert err.reason == "unknown_dialect" and "alert" in err.detail


@pytest.mark.parametrize(
    "raw",
    [
        b"<rss><channel/></rss>",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>',
        b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>'
        + body(A2)
        + b"</Body></Envelope>",
    ],
)
def test_wrong_root(raw: bytes) -> None:
    assert reject(raw).reason == "unknown_dialect"


@pytest.mark.parametrize(
    "raw",
    [
        A2.replace(b"SEVERE THUNDERSTORM", b"SEVERE \xff\xfe THUNDERSTORM"),  # declares UTF-8
        A2.replace(b"SEVERE THUNDERSTORM", b"\xe6\x9a"),  # a truncated 3-byte sequence
        A2.replace(b"SEVERE THUNDERSTORM", b"\xed\xa0\x80"),  # an encoded surrogate
        body(A2).replace(b"SEVERE", b"\xc0\xaf"),  # overlong encoding, no declaration (UTF-8 default)
        A2.replace(b"SEVERE", b"SEV\x00ERE"),  # NUL is not an XML character
    ],
)
def test_invalid_utf8_xml(raw: bytes) -> None:
    assert reject(raw).reason == "xml_malformed"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"sender": "a\xff", "identifier": "x"}',
        b'{"kind": "eew\xed\xa0\x80"}',
        b'{"sender": "\\ud800", "identifier": "x"}',  # a lone surrogate escape
        b"{\x00\x01\xff\xfe",
    ],
)
def test_invalid_utf8_json(raw: bytes) -> None:
    assert reject(raw).reason == "bad_json"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes(range(256)), "not_xml_or_json"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_xml_or_json"),
        (b"PK\x03\x04" + b"\x00" * 30, "not_xml_or_json"),  # a zipped feed
        (b"\x1f\x8b\x08\x00" + b"\xff" * 30, "not_xml_or_json"),  # gzip
        (b"<\x00\x01\xff\xfe", "xml_malformed"),
        (b"<" * 1000, "xml_malformed"),
        (b"{" * 1000, "bad_json"),
        (b"<a>" * 50_000, "xml_malformed"),  # deep and unclosed
        (b"<a>" * 50_000 + b"</a>" * 50_000, "unknown_dialect"),  # deep and well-formed
        (b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}", "bad_json"),  # beyond the JSON depth limit
    ],
)
def test_binary_garbage(raw: bytes, reason: str) -> None:
    assert reject(raw).reason == reason


# --- EDXL-DE wrappers ------------------------------------------------------------------------------

DE10 = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
DE20 = "urn:oasis:names:tc:emergency:edxl:de:2.0"


def edxl(*alerts: bytes, namespace: str = DE10) -> bytes:
    objects = b"".join(
        b"<contentObject><contentDescription>CAP</contentDescription><xmlContent><embeddedXMLContent>"
        + body(a)
        + b"</embeddedXMLContent></xmlContent></contentObject>"
        for a in alerts
    )
    if namespace == DE20:
        objects = b"<content>" + objects + b"</content>"
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EDXLDistribution xmlns="{namespace}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<distributionID>d-1</distributionID><senderID>ipaws@example.gov</senderID>"
        "<dateTimeSent>2024-07-01T08:00:00+08:00</dateTimeSent>"
        "<distributionStatus>Actual</distributionStatus><distributionType>Report</distributionType>"
        "<combinedConfidentiality>UNCLASSIFIED</combinedConfidentiality>"
    ).encode()
    return head + objects + b"</EDXLDistribution>"


@pytest.mark.parametrize("namespace", [DE10, DE20])
@pytest.mark.parametrize("alert", [A2, USGS11], ids=["cap12", "cap11"])
def test_edxl_with_one_alert_is_unwrapped(namespace: str, alert: bytes) -> None:
    assert parse_feed(edxl(alert, namespace=namespace), "test") == parse_feed(alert, "test")


def test_edxl_national_alert_needs_its_empty_namespace() -> None:
    """Embedded as is, the namespace-less national <alert> inherits EDXL's default namespace (XML's
    rule), so it is no longer the national dialect; with xmlns="" it is."""
    assert reject(edxl(NATIONAL)).reason == "unknown_dialect"
    wrapped = edxl(NATIONAL.replace(b"<alert>", b'<alert xmlns="">', 1))
    assert parse_feed(wrapped, "test") == parse_feed(NATIONAL, "test")


def test_edxl_with_several_alerts_is_rejected() -> None:
    err = reject(edxl(A2, USGS11))
    assert err.reason == "edxl_multiple_alerts" and "2 alerts" in err.detail


@pytest.mark.parametrize(
    "raw",
    [
        edxl(),
        edxl(b"<report>not an alert</report>"),
        edxl(A2).replace(b"embeddedXMLContent", b"keyXMLContent"),  # not where DE puts content
    ],
)
def test_edxl_without_alert(raw: bytes) -> None:
    err = reject(raw)
    assert err.reason == "unknown_dialect" and "EDXL-DE" in err.detail


def test_edxl_inner_alert_is_still_validated() -> None:
    assert reject(edxl(A2.replace(b"<scope>Public</scope>", b""))).reason == "schema_invalid"


@pytest.fixture
def ipaws_trust(tmp_path: Path) -> TrustStore:
    der = re.findall(rb"<(?:ds:)?X509Certificate>([^<]+)</", IPAWS)[0]
    pem = x509.load_der_x509_certificate(base64.b64decode(b"".join(der.split()))).public_bytes(Encoding.PEM)
    (tmp_path / "ipaws.pem").write_bytes(pem)
    return TrustStore.from_dict(
        {"senders": {"bbrundage@dps.state.nv.us": {"certificates": ["ipaws.pem"]}}}, base_dir=tmp_path
    )


@pytest.mark.parametrize("namespace", [DE10, DE20])
def test_edxl_signed_alert_verifies_as_sent(ipaws_trust: TrustStore, namespace: str) -> None:
    """The alert's signature covers the alert, not the wrapper (whose xmlns:xsi must not leak in)."""
    w, verdict = parse_feed_checked(edxl(IPAWS, namespace=namespace), "test", ipaws_trust)
    assert verdict.status is SignatureStatus.VERIFIED and w.msg_type.value == "Cancel"


def test_edxl_tampered_alert_fails_its_signature(ipaws_trust: TrustStore) -> None:
    raw = edxl(IPAWS).replace(b"<sent>2019-04-19T11:46:20-06:00", b"<sent>2019-04-19T11:46:21-06:00", 1)
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, "test", ipaws_trust)
    assert caught.value.reason == "signature_invalid"


# --- empty polygons and circles --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (A2_POLYGON, b"<polygon></polygon>", "polygon[0]"),
        (A2_POLYGON, b"<polygon/>", "polygon[0]"),
        (A2_POLYGON, b"<polygon>\n  </polygon>", "polygon[0]"),
        (A2_POLYGON, A2_POLYGON + b"<polygon/>", "polygon[1]"),  # even next to a good one
        (A2_POLYGON, A2_POLYGON + b"<circle/>", "circle[0]"),
    ],
)
def test_cap12_empty_geometry_is_rejected(old: bytes, new: bytes, named: str) -> None:
    assert old in A2
    err = reject(A2.replace(old, new))
    assert err.reason == "cap_rule_violation"
    assert f"area[0] ('EXTREME NORTH CENTRAL TUOLUMNE COUNTY I…') {named} is empty" in err.detail


def test_cap11_empty_polygon_next_to_geometry_is_ignored() -> None:
    """Legacy CAP 1.1 feeds (NWS's among them) write an empty <polygon> beside their geocodes."""
    raw = USGS11.replace(b"<circle>", b"<polygon></polygon><circle>", 1)
    assert raw != USGS11
    assert parse_feed(raw, "test").areas == parse_feed(USGS11, "test").areas


def test_cap11_area_with_only_an_empty_polygon_is_rejected() -> None:
    raw = re.sub(rb"<circle>[^<]*</circle>", b"<polygon> </polygon>", USGS11, count=1)
    err = reject(raw)
    assert err.reason == "cap_rule_violation"
    assert "polygon[0] is empty and the area has no other polygon, circle or geocode" in err.detail


def test_national_empty_polygon_alone_is_rejected() -> None:
    raw = re.sub(rb"<geocode>[^<]*</geocode>", b"", NATIONAL)
    assert raw != NATIONAL and b"<polygon/>" in raw
    err = reject(raw)
    assert err.reason == "cap_rule_violation" and "is empty and the area has no other" in err.detail


# --- identifier and sender (CAP §3.2.1) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<identifier>KSTO1055887203</identifier>", b"<identifier>KSTO,1055887203</identifier>"),
        (b"<identifier>KSTO1055887203</identifier>", b"<identifier>KSTO 1055887203</identifier>"),
        (b"<identifier>KSTO1055887203</identifier>", b"<identifier>KSTO&amp;1055887203</identifier>"),
        (b"<sender>KSTO@NWS.NOAA.GOV</sender>", b"<sender>KSTO&lt;NWS.NOAA.GOV</sender>"),
    ],
)
def test_forbidden_characters_in_keys(old: bytes, new: bytes) -> None:
    assert old in A2
    err = reject(A2.replace(old, new))
    assert err.reason == "cap_rule_violation" and "CAP forbids it" in err.detail


def test_forbidden_characters_in_cap11_keys() -> None:
    raw = re.sub(rb"<identifier>([^<]*)</identifier>", rb"<identifier>a,\1</identifier>", USGS11, count=1)
    assert reject(raw).reason == "cap_rule_violation"
