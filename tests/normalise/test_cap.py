"""CAP 1.2 / 1.1: every sample file has an explicit expected outcome, plus synthetic rule violations."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from warnengine.model import Hazard, MsgType, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise import FeedError, parse_feed

SAMPLES = Path(__file__).parent / "samples"
NATIONAL_SAMPLES = {"cn_national_ewrs_henan_gale_blue_update_non-cap.xml"}  # expected in test_national.py


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@dataclass(frozen=True)
class Ok:
    msg_type: MsgType
    hazard: Hazard
    severity: Severity
    version: int
    language: str
    areas: int
    first_point: tuple[float, float] | None  # first polygon vertex as stored: (lon, lat)


PARSES: dict[str, Ok] = {
    # Fire + Met categories: Fire wins. Two en-AU <info>s: the first is used.
    "au_nsw-rfs_fire_evacuate_cap12.xml": Ok(
        MsgType.ALERT, Hazard.FOREST_FIRE, Severity.BLUE, 1, "en-AU", 1, None
    ),
    # 880 KB polygon, XML-DSig <Signature> allowed by the XSD's trailing `any`.
    "bf_anam_thunderstorm_signed_fr.xml": Ok(
        MsgType.ALERT, Hazard.METEO, Severity.YELLOW, 1, "fr", 1, (-0.576148, 15.0825820000001)
    ),
    "ca_ec_thunderstorm_update_allclear_cap12.xml": Ok(
        MsgType.UPDATE, Hazard.METEO, Severity.BLUE, 3, "en-CA", 2, (-82.9314, 42.3481)
    ),
    "ca_naads_signed_cap12.xml": Ok(
        MsgType.UPDATE, Hazard.METEO, Severity.YELLOW, 10, "en-CA", 2, (-104.2, 54.4054)
    ),
    # MeteoAlarm awareness_level "2; yellow; Moderate" gives the colour.
    "fr_meteofrance_multi_area_orages.xml": Ok(
        MsgType.ALERT, Hazard.METEO, Severity.YELLOW, 1, "fr-FR", 4, None
    ),
    # Its SignatureValue is invalid; without a trust store signatures are not checked, so it parses.
    # With its certificate configured it is signature_invalid (test_signature.py).
    "invalid_tg_bad_signature.xml": Ok(
        MsgType.ALERT, Hazard.METEO, Severity.ORANGE, 1, "fr", 2, (1.62681, 8.379891)
    ),
    # Category Security: no hazard of ours. The HSAS parameter is not a colour parameter name.
    "oasis_cap12_spec_appendix_A1.xml": Ok(MsgType.ALERT, Hazard.OTHER, Severity.ORANGE, 1, "en-US", 1, None),
    "oasis_cap12_spec_appendix_A2.xml": Ok(
        MsgType.ALERT, Hazard.METEO, Severity.ORANGE, 1, "en-US", 1, (-120.14, 38.47)
    ),
    "oasis_cap12_spec_appendix_A3.xml": Ok(
        MsgType.UPDATE, Hazard.EARTHQUAKE, Severity.BLUE, 2, "en-US", 1, None
    ),
    "oasis_cap12_spec_appendix_A4.xml": Ok(MsgType.ALERT, Hazard.OTHER, Severity.ORANGE, 1, "en-US", 1, None),
    # Cancel without <info>: valid, no area.
    "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml": Ok(
        MsgType.CANCEL, Hazard.OTHER, Severity.BLUE, 2, "zh-CN", 0, None
    ),
    "us_nws_hurricane_update_multipolygon.xml": Ok(
        MsgType.UPDATE, Hazard.METEO, Severity.RED, 9, "en-US", 1, (-92.619, 30.094)
    ),
    "us_usgs_earthquake_cap11.xml": Ok(MsgType.ALERT, Hazard.EARTHQUAKE, Severity.BLUE, 1, "en-US", 1, None),
}

REJECTS: dict[str, str] = {
    "de_dwd_thunderstorm_update.xml": "cap_rule_violation",  # a 3-point polygon
    "invalid_google_testdata.xml": "schema_invalid",  # no <scope>
    "malformed_xxe_external_entity.xml": "xml_forbidden_construct",
    "minimal_no_optional_fields_cap11.xml": "no_info",  # an Alert without <info>
}


def test_every_sample_has_an_expected_outcome() -> None:
    files = {p.name for p in SAMPLES.glob("*.xml")}
    assert files == set(PARSES) | set(REJECTS) | NATIONAL_SAMPLES


@pytest.mark.parametrize("name", sorted(PARSES))
def test_sample_parses(name: str) -> None:
    want = PARSES[name]
    w = parse_feed(sample(name), source=f"test:{name}")
    assert w.source == f"test:{name}"
    assert (w.msg_type, w.hazard, w.severity, w.version, w.language) == (
        want.msg_type,
        want.hazard,
        want.severity,
        want.version,
        want.language,
    )
    assert len(w.areas) == want.areas
    assert w.sent.tzinfo is not None and (w.expires is None or w.expires.tzinfo is not None)
    first_ring = next((a.polygons[0] for a in w.areas if a.polygons), None)
    if want.first_point is None:
        assert first_ring is None
    else:
        assert first_ring is not None and first_ring[0] == want.first_point
        assert first_ring[0] == first_ring[-1] and len(first_ring) >= 4


@pytest.mark.parametrize("name", sorted(REJECTS))
def test_sample_rejected(name: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(sample(name), source="test")
    assert caught.value.reason == REJECTS[name]
    assert str(caught.value).startswith(REJECTS[name] + ": ")


def test_degenerate_polygon_is_named() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(sample("de_dwd_thunderstorm_update.xml"), source="test")
    assert "area[0] ('polygonal event area') polygon[0] has 3 points" in caught.value.detail


def test_schema_error_is_one_line() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(sample("invalid_google_testdata.xml"), source="test")
    assert "\n" not in caught.value.detail and "scope" in caught.value.detail


def test_alert_chain_and_fields() -> None:
    w = parse_feed(sample("oasis_cap12_spec_appendix_A2.xml"), source="test")
    assert w.warning_id == chain_id("KSTO@NWS.NOAA.GOV", "KSTO1055887203")
    assert w.status is Status.ACTUAL and w.event == "SEVERE THUNDERSTORM"
    assert w.areas[0].codes == ["006109", "006009", "006003"]
    assert w.description.startswith("AT 254 PM PDT") and not w.description.endswith(" ")


def test_update_joins_first_reference_chain() -> None:
    w = parse_feed(sample("oasis_cap12_spec_appendix_A3.xml"), source="test")
    assert w.warning_id == chain_id("trinet@caltech.edu", "TRI13970876.1")
    assert w.references == ["trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00"]
    assert w.areas[0].circles[0].model_dump() == {"lat": 32.9525, "lon": -115.5527, "radius_km": 0.0}


def test_cancel_without_info() -> None:
    w = parse_feed(sample("us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml"), source="test")
    assert w.warning_id == chain_id("bbrundage@dps.state.nv.us", "AS-NV-e18921c7-1b35-4a81-9705-42d25c265ddd")
    assert w.event == "cancel" and not w.has_area


def test_html_in_text_is_unescaped() -> None:
    w = parse_feed(sample("au_nsw-rfs_fire_evacuate_cap12.xml"), source="test")
    assert w.description.startswith("ALERT LEVEL: Not Applicable\nLOCATION: 12 Cox Street")
    assert "<br" not in w.description and "&lt;" not in w.description


def test_multi_area_geocodes() -> None:
    w = parse_feed(sample("fr_meteofrance_multi_area_orages.xml"), source="test")
    assert [a.codes for a in w.areas] == [["FR821"], ["FR822"], ["FR823"], ["FR623"]]


# --- synthetic variants of Appendix A.2 (CAP 1.2) ------------------------------------------------

A2 = sample("oasis_cap12_spec_appendix_A2.xml").decode()
A2_POLYGON = "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14"


def a2(*replacements: tuple[str, str]) -> bytes:
    text = A2
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text.encode()


def reject(raw: bytes) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source="test")
    return caught.value


@pytest.mark.parametrize(
    ("polygon", "words"),
    [
        ("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89", "not closed"),
        (
            "-120.14,38.47 -119.95,38.34 -119.74,38.52 -120.14,38.47",
            "not a WGS 84 lat,lon",
        ),  # lon,lat swapped
        ("38.47;-120.14 38.34,-119.95 38.52,-119.74 38.47,-120.14", "not a 'lat,lon' pair"),
        ("nan,-120.14 38.34,-119.95 38.52,-119.74 nan,-120.14", "not a WGS 84 lat,lon"),
    ],
)
def test_polygon_rules(polygon: str, words: str) -> None:
    err = reject(a2((A2_POLYGON, polygon)))
    assert err.reason == "cap_rule_violation" and words in err.detail and "polygon[0]" in err.detail


@pytest.mark.parametrize("circle", ["32.9,-115.5", "32.9 -115.5 3", "32.9,-115.5 -1", "32.9,-215.5 1"])
def test_circle_rules(circle: str) -> None:
    err = reject(a2((f"<polygon>{A2_POLYGON}</polygon>", f"<circle>{circle}</circle>")))
    assert err.reason == "cap_rule_violation" and "circle[0]" in err.detail


@pytest.mark.parametrize(
    "references",
    [
        "KSTO@NWS.NOAA.GOV,KSTO1055887200",  # no sent
        "KSTO@NWS.NOAA.GOV,KSTO1055887200,2003-06-17T14:00:00Z",  # 'Z' is not CAP
    ],
)
def test_reference_rules(references: str) -> None:
    raw = a2(
        ("<msgType>Alert</msgType>", "<msgType>Update</msgType>"),
        ("<scope>Public</scope>", f"<scope>Public</scope><references>{references}</references>"),
    )
    assert reject(raw).reason == "cap_rule_violation"


def test_z_time_is_refused_in_cap12() -> None:
    raw = a2(("2003-06-17T14:57:00-07:00", "2003-06-17T21:57:00Z"))
    assert reject(raw).reason == "schema_invalid"  # the XSD pattern catches it before our own check


def test_cap12_alert_without_info() -> None:
    start, end = A2.index("<info>"), A2.index("</info>") + len("</info>")
    assert reject((A2[:start] + A2[end:]).encode()).reason == "no_info"


def test_ack_carries_no_warning() -> None:
    assert reject(a2(("<msgType>Alert</msgType>", "<msgType>Ack</msgType>"))).reason == "unsupported_msg_type"


@pytest.mark.parametrize(
    ("name", "value", "severity"),
    [
        ("color", "红色", Severity.RED),
        ("Colour", "Yellow", Severity.YELLOW),
        ("awareness_level", "4; red; Extreme", Severity.RED),
        ("severity_color", "blue", Severity.BLUE),
        ("HSAS", "RED", Severity.ORANGE),
    ],
)
def test_colour_parameter_wins(name: str, value: str, severity: Severity) -> None:
    param = f"<parameter><valueName>{name}</valueName><value>{value}</value></parameter>"
    raw = a2(("<area>", f"{param}<area>"))
    assert parse_feed(raw, source="test").severity is severity


@pytest.mark.parametrize(
    ("category", "event", "hazard"),
    [
        ("Met", "Flash Flood Warning", Hazard.FLOOD),
        ("Met", "山洪灾害气象风险预警", Hazard.FLOOD),
        ("Geo", "Landslide", Hazard.GEOHAZARD),
        ("Geo", "地震速报", Hazard.EARTHQUAKE),
        ("Fire", "Bushfire", Hazard.FOREST_FIRE),
        ("Health", "Heat", Hazard.OTHER),
    ],
)
def test_hazard_mapping(category: str, event: str, hazard: Hazard) -> None:
    raw = a2(
        ("<category>Met</category>", f"<category>{category}</category>"),
        ("<event>SEVERE THUNDERSTORM</event>", f"<event>{event}</event>"),
    )
    assert parse_feed(raw, source="test").hazard is hazard


def test_chinese_info_preferred() -> None:
    raw = sample("oasis_cap12_spec_appendix_A4.xml").replace(b"es-US", b"zh-CN")
    w = parse_feed(raw, source="test")
    assert w.language == "zh-CN" and w.event == "Abducción de Niño"


def test_schema_location_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the parser tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    hint = (
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 http://127.0.0.1:9/cap.xsd"'
    )
    raw = a2(
        (
            '<alert xmlns = "urn:oasis:names:tc:emergency:cap:1.2">',
            f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" {hint}>',
        )
    )
    assert parse_feed(raw, source="test").severity is Severity.ORANGE


# --- CAP 1.1: no XSD, lenient times, same geometry rules --------------------------------------------

USGS = sample("us_usgs_earthquake_cap11.xml").decode()


def test_cap11_accepts_z_time() -> None:
    raw = USGS.replace("<sent>2010-08-31T00:09:25-05:00</sent>", "<sent>2010-08-31T05:09:25Z</sent>")
    w = parse_feed(raw.encode(), source="test")
    assert w.sent.utcoffset() is not None and w.sent.hour == 5


def test_cap11_colour_in_severity_text() -> None:
    raw = USGS.replace("<severity>Unknown</severity>", "<severity>Orange</severity>")
    assert parse_feed(raw.encode(), source="test").severity is Severity.ORANGE


def test_cap11_unknown_severity() -> None:
    raw = USGS.replace("<severity>Unknown</severity>", "<severity>Catastrophic</severity>")
    assert reject(raw.encode()).reason == "unknown_severity"


def test_cap11_missing_event() -> None:
    raw = USGS.replace("<event>Earthquake</event>", "")
    err = reject(raw.encode())
    assert err.reason == "missing_field" and "event" in err.detail


def test_cap11_naive_time() -> None:
    raw = USGS.replace("2010-08-31T00:09:25-05:00", "2010-08-31T00:09:25")
    assert reject(raw.encode()).reason == "bad_time"
