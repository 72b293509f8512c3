"""The national early-warning dialect (国突): the Henan gale sample and synthetic variants of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from warnengine.model import Hazard, MsgType, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise import FeedError, parse_feed

SAMPLE = (
    Path(__file__).parent / "samples" / "cn_national_ewrs_henan_gale_blue_update_non-cap.xml"
).read_bytes()
TEXT = SAMPLE.decode()
SENDER_CODE = "41000041600000"


def variant(*replacements: tuple[str, str]) -> bytes:
    text = TEXT
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text.encode()


def reject(raw: bytes) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source="test")
    return caught.value


def test_sample() -> None:
    w = parse_feed(SAMPLE, source="ewrs")
    assert (w.msg_type, w.status, w.hazard, w.severity) == (
        MsgType.UPDATE,
        Status.ACTUAL,
        Hazard.METEO,
        Severity.BLUE,
    )
    assert w.sender == SENDER_CODE and w.identifier == "41000041600000_20200205105119"
    # The bare reference belongs to this message's sender.
    assert w.warning_id == chain_id(SENDER_CODE, "41000041600000_20200204121842")
    assert w.version == 2 and w.references == [f"{SENDER_CODE},41000041600000_20200204121842,"]
    assert w.sent == datetime(2020, 2, 5, 10, 45, tzinfo=timezone(timedelta(hours=8)))
    assert w.expires is None and w.language == "zh-CN" and w.source == "ewrs"
    assert w.event == "大风" and w.headline == "河南省气象局发布大风蓝色预警[IV级/一般]"
    assert w.description.startswith("河南省气象台2020年02月05日10时45分继续发布大风蓝色预警")
    assert len(w.areas) == 1
    area = w.areas[0]
    assert area.codes == ["410000000000"]  # "410000000000,410000000000" deduplicated
    assert area.polygons == [] and area.circles == [] and w.has_area


def test_alert_starts_its_own_chain() -> None:
    raw = variant(
        ("<msgType>Update</msgType>", "<msgType>Alert</msgType>"),
        ("<references>41000041600000_20200204121842</references>", "<references/>"),
    )
    w = parse_feed(raw, source="test")
    assert w.warning_id == chain_id(SENDER_CODE, "41000041600000_20200205105119") and w.version == 1


def test_sender_name_when_no_sender_code() -> None:
    w = parse_feed(variant(("<senderCode>41000041600000</senderCode>", "")), source="test")
    assert w.sender == "河南省气象局"


@pytest.mark.parametrize(
    ("event_type", "hazard"),
    [
        ("11A01", Hazard.FLOOD),
        ("11B03", Hazard.METEO),
        ("11C00", Hazard.EARTHQUAKE),
        ("11D01", Hazard.GEOHAZARD),
        ("11E01", Hazard.OTHER),
        ("11G01", Hazard.FOREST_FIRE),
        ("99Z99", Hazard.OTHER),
    ],
)
def test_event_type_table(event_type: str, hazard: Hazard) -> None:
    raw = variant(("<eventType>11B06</eventType>", f"<eventType>{event_type}</eventType>"))
    assert parse_feed(raw, source="test").hazard is hazard


def test_unknown_event_type_falls_back_to_headline() -> None:
    raw = variant(
        ("<eventType>11B06</eventType>", "<eventType/>"), ("发布大风蓝色预警[IV级", "发布山洪蓝色预警[IV级")
    )
    w = parse_feed(raw, source="test")
    assert w.hazard is Hazard.FLOOD and w.event == "山洪"


@pytest.mark.parametrize(
    ("text", "severity"),
    [("Red", Severity.RED), ("orange", Severity.ORANGE), ("黄色", Severity.YELLOW), ("蓝", Severity.BLUE)],
)
def test_colours(text: str, severity: Severity) -> None:
    raw = variant(("<severity>Blue</severity>", f"<severity>{text}</severity>"))
    assert parse_feed(raw, source="test").severity is severity


def test_unknown_colour() -> None:
    raw = variant(("<severity>Blue</severity>", "<severity>Purple</severity>"))
    assert reject(raw).reason == "unknown_severity"


def test_time_without_offset_is_beijing_time() -> None:
    raw = variant(
        ("<sendTime>2020-02-05 10:45:00+08:00</sendTime>", "<sendTime>2020-02-05 10:45:00</sendTime>")
    )
    assert parse_feed(raw, source="test").sent.utcoffset() == timedelta(hours=8)


def test_bad_time() -> None:
    raw = variant(("<sendTime>2020-02-05 10:45:00+08:00</sendTime>", "<sendTime>2020年2月5日</sendTime>"))
    err = reject(raw)
    assert err.reason == "bad_time" and "sendTime" in err.detail


def test_missing_identifier() -> None:
    err = reject(variant(("<identifier>41000041600000_20200205105119</identifier>", "")))
    assert err.reason == "missing_field" and "identifier" in err.detail


def test_polygon_and_circle_in_cap_order() -> None:
    raw = variant(
        ("<polygon/>", "<polygon>34.1,113.2 34.2,113.3 34.3,113.2 34.1,113.2</polygon>"),
        ("<circle/>", "<circle>34.75,113.62 5</circle>"),
    )
    area = parse_feed(raw, source="test").areas[0]
    assert area.polygons[0][0] == (113.2, 34.1)
    assert (area.circles[0].lat, area.circles[0].lon, area.circles[0].radius_km) == (34.75, 113.62, 5.0)


def test_bad_polygon() -> None:
    raw = variant(("<polygon/>", "<polygon>34.1,113.2 34.2,113.3 34.1,113.2</polygon>"))
    assert reject(raw).reason == "cap_rule_violation"


def test_cancel_without_info() -> None:
    start, end = TEXT.index("<info>"), TEXT.index("</info>") + len("</info>")
    raw = (TEXT[:start] + TEXT[end:]).replace("<msgType>Update</msgType>", "<msgType>Cancel</msgType>")
    w = parse_feed(raw.encode(), source="test")
    assert w.msg_type is MsgType.CANCEL and w.event == "cancel" and not w.has_area
    assert w.warning_id == chain_id(SENDER_CODE, "41000041600000_20200204121842")


def test_update_without_info() -> None:
    start, end = TEXT.index("<info>"), TEXT.index("</info>") + len("</info>")
    assert reject((TEXT[:start] + TEXT[end:]).encode()).reason == "no_info"


def test_unsupported_msg_type() -> None:
    assert (
        reject(variant(("<msgType>Update</msgType>", "<msgType>Ack</msgType>"))).reason
        == "unsupported_msg_type"
    )
