"""The JSON feed format (schema in warnengine/normalise/json_feed.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from warnengine.model import Hazard, MsgType, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise import FeedError, parse_feed

BASE: dict[str, Any] = {
    "sender": "410100000000-qx",
    "identifier": "ZZ-2024-0701-01",
    "sent": "2024-07-01T08:00:00+08:00",
    "hazard": "flood",
    "severity": "orange",
    "event": "山洪",
    "headline": "郑州市气象台发布山洪橙色预警 &amp; 提示",
    "instruction": "  请立即转移  ",
    "expires": "2024-07-01T20:00:00+08:00",
    "areas": [
        {
            "description": "某某村",
            "polygon": [[113.2, 34.1], [113.3, 34.2], [113.2, 34.3]],
            "circle": {"lat": 34.75, "lon": 113.62, "radius_km": 5},
            "codes": ["410122100201", "410122100201", "410122100202"],
        }
    ],
}


def doc(**changes: Any) -> bytes:
    data = {**BASE, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not None}, ensure_ascii=False).encode()


def reject(raw: bytes) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source="test")
    return caught.value


def test_valid_document() -> None:
    w = parse_feed(doc(), source="json-test")
    assert w.source == "json-test"
    assert (w.msg_type, w.status, w.hazard, w.severity, w.version) == (
        MsgType.ALERT,
        Status.ACTUAL,
        Hazard.FLOOD,
        Severity.ORANGE,
        1,
    )
    assert w.warning_id == chain_id("410100000000-qx", "ZZ-2024-0701-01")
    assert w.headline == "郑州市气象台发布山洪橙色预警 & 提示" and w.instruction == "请立即转移"
    assert w.expires is not None and w.expires.utcoffset() is not None
    area = w.areas[0]
    # [lon, lat] order kept; the open ring is closed.
    assert area.polygons == [[(113.2, 34.1), (113.3, 34.2), (113.2, 34.3), (113.2, 34.1)]]
    assert area.circles[0].radius_km == 5.0
    assert area.codes == ["410122100201", "410122100202"]


def test_z_offset_is_accepted() -> None:
    assert parse_feed(doc(sent="2024-07-01T00:00:00Z"), source="t").sent == datetime(2024, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "severity"), [("红", Severity.RED), ("蓝色", Severity.BLUE), ("Yellow", Severity.YELLOW)]
)
def test_chinese_and_cased_colours(text: str, severity: Severity) -> None:
    assert parse_feed(doc(severity=text), source="t").severity is severity


def test_wrong_severity() -> None:
    err = reject(doc(severity="purple"))
    assert err.reason == "unknown_severity" and "severity" in err.detail and "purple" in err.detail


def test_missing_sender() -> None:
    err = reject(doc(sender=None))
    assert err.reason == "missing_field" and err.detail.startswith("sender:")


def test_naive_time() -> None:
    err = reject(doc(sent="2024-07-01T08:00:00"))
    assert err.reason == "bad_time" and err.detail.startswith("sent:")


def test_bad_hazard() -> None:
    err = reject(doc(hazard="tsunami"))
    assert err.reason == "invalid_field" and err.detail.startswith("hazard:")


@pytest.mark.parametrize(
    ("area", "field"),
    [
        ({"polygon": [[113.2, 34.1], [113.3, 34.2]]}, "areas.0.polygon"),
        ({"polygon": [[34.1, 213.2], [113.3, 34.2], [113.2, 34.3]]}, "areas.0.polygon"),
        ({"circle": {"lat": 95, "lon": 113.6, "radius_km": 1}}, "areas.0.circle.lat"),
        ({"circle": {"lat": 34.7, "lon": 113.6, "radius_km": -1}}, "areas.0.circle.radius_km"),
    ],
)
def test_bad_geometry(area: dict[str, Any], field: str) -> None:
    err = reject(doc(areas=[area]))
    assert err.reason == "invalid_field" and err.detail.startswith(field)


def test_nan_is_refused() -> None:
    raw = doc().replace(b'"radius_km": 5', b'"radius_km": NaN')
    assert reject(raw).reason in {"invalid_field", "bad_json"}


def test_update_joins_first_reference() -> None:
    refs = ["410100000000-qx,ZZ-2024-0630-07,2024-06-30T18:00:00+08:00", "ZZ-2024-0701-00"]
    w = parse_feed(doc(msg_type="Update", references=refs), source="t")
    assert w.warning_id == chain_id("410100000000-qx", "ZZ-2024-0630-07") and w.version == 3


def test_bare_reference_uses_own_sender() -> None:
    w = parse_feed(doc(msg_type="Cancel", references=["ZZ-2024-0630-07"], areas=[]), source="t")
    assert w.warning_id == chain_id("410100000000-qx", "ZZ-2024-0630-07") and not w.has_area


@pytest.mark.parametrize("raw", [b'{"sender": ', b'{"sender": "a",}', b"{\xff}"])
def test_bad_json(raw: bytes) -> None:
    assert reject(raw).reason == "bad_json"


def test_empty_object() -> None:
    assert reject(b"{}").reason == "missing_field"


def test_references_are_normalised() -> None:
    refs = [" 410100000000-qx,ZZ-2024-0630-07,2024-06-30T18:00:00+08:00 ", "ZZ-2024-0701-00"]
    w = parse_feed(doc(msg_type="Update", references=refs, sender=" 410100000000-qx "), source="t")
    assert w.sender == "410100000000-qx"
    assert w.references == [
        "410100000000-qx,ZZ-2024-0630-07,2024-06-30T18:00:00+08:00",
        "410100000000-qx,ZZ-2024-0701-00,",
    ]
