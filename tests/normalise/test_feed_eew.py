"""Earthquake early warning (feeds/eew.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.normalise.feed_helpers import encode, parse, reject
from warnengine.model import Hazard, MsgType, Severity
from warnengine.model.warning import chain_id

EEW: dict[str, Any] = {
    "kind": "eew",
    "event_id": "EEW-20240720031200",
    "magnitude": 5.8,
    "depth_km": 10,
    "lat": 34.6,
    "lon": 113.4,
    "origin_time": "2024-07-20T03:12:00+08:00",
    "epicentre": "示范县北部",
    "intensity_radius_km": {"V": 60.0, "VI": 25.0, "VII": 8.5},
}


def eew(**changes: Any) -> bytes:
    return encode(EEW, **changes)


def test_first_report() -> None:
    w = parse(eew(), "earthquake")
    assert (w.hazard, w.severity, w.msg_type, w.version) == (
        Hazard.EARTHQUAKE,
        Severity.RED,
        MsgType.ALERT,
        1,
    )
    assert w.warning_id == chain_id("eew", "EEW-20240720031200")
    circle = w.areas[0].circles[0]
    assert (circle.lat, circle.lon, circle.radius_km) == (34.6, 113.4, 25.0)
    assert w.expires == w.sent + timedelta(minutes=10)
    assert "5.8级" in w.headline and "示范县北部" in w.headline


def test_later_report_updates() -> None:
    w = parse(eew(report=3, intensity_radius_km={"VI": 31, "VII": 12}), "earthquake")
    assert w.msg_type is MsgType.UPDATE and w.version == 3 and w.areas[0].circles[0].radius_km == 31
    assert w.references == ["eew,EEW-20240720031200,"] and w.identifier == "EEW-20240720031200#r3"


def test_cancellation() -> None:
    w = parse(eew(status="cancelled", intensity_radius_km={}), "earthquake")
    assert w.msg_type is MsgType.CANCEL and w.warning_id == chain_id("eew", "EEW-20240720031200")
    assert not w.has_area and w.version > 100


@pytest.mark.parametrize(
    ("radii", "radius"),
    [({"6": 20.0}, 20.0), ({"VIII": 5, "VII": 12}, 12.0), ({"VI度": 14}, 14.0), ({"vi": 3}, 3.0)],
)
def test_intensity_keys(radii: dict[str, float], radius: float) -> None:
    assert parse(eew(intensity_radius_km=radii), "earthquake").areas[0].circles[0].radius_km == radius


def test_below_vi_is_not_a_warning() -> None:
    err = reject(eew(intensity_radius_km={"IV": 80, "V": 30}), "earthquake")
    assert err.reason == "not_a_warning" and "highest: V" in err.detail


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"intensity_radius_km": {"XIII": 3}}, "invalid_field", "intensity_radius_km.XIII"),
        ({"intensity_radius_km": {"VI": -1}}, "invalid_field", "intensity_radius_km.VI"),
        ({"intensity_radius_km": {"²": 5}}, "invalid_field", "intensity_radius_km.²"),
        ({"origin_time": "9999-12-31T23:59:59-12:00"}, "invalid_field", "origin_time"),
        ({"magnitude": 11}, "invalid_field", "magnitude"),
        ({"report": 0}, "invalid_field", "report"),
        ({"event_id": None}, "missing_field", "event_id"),
        ({"origin_time": "03:12"}, "bad_time", "origin_time"),
    ],
)
def test_bad_eew(changes: dict[str, Any], reason: str, field: str) -> None:
    err = reject(eew(**changes), "earthquake")
    assert err.reason == reason and err.detail.startswith(field), err
