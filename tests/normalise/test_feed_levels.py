"""Level-driven feeds: hydrological exceedance, forest-fire danger, geohazard risk and point alarms."""

from __future__ import annotations

from typing import Any

import pytest

from tests.normalise.feed_helpers import encode, parse, reject
from warnengine.model import Circle, Hazard, MsgType, Severity
from warnengine.model.warning import chain_id
from warnengine.normalise.feeds.hydro import hydro_severity

HYDRO: dict[str, Any] = {
    "kind": "hydro_exceedance",
    "station_id": "41401800",
    "station_name": "示范",
    "river": "贾鲁河",
    "lon": 113.65,
    "lat": 34.80,
    "water_level_m": 86.2,
    "warning_level_m": 86.0,
    "guarantee_level_m": 88.0,
    "observed_at": "2024-07-20T08:05:00+08:00",
    "codes": ["410122100201"],
}


def hydro(**changes: Any) -> bytes:
    return encode(HYDRO, **changes)


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        (85.99, None),
        (86.0, Severity.YELLOW),
        (86.99, Severity.YELLOW),
        (87.0, Severity.ORANGE),
        (88.0, Severity.RED),
    ],
)
def test_hydro_thresholds(level: float, severity: Severity | None) -> None:
    assert hydro_severity(level, 86.0, 88.0) is severity


def test_hydro_exceedance() -> None:
    w = parse(hydro(), "flood")
    assert (w.hazard, w.severity, w.msg_type, w.version) == (Hazard.FLOOD, Severity.YELLOW, MsgType.ALERT, 2)
    assert w.warning_id == chain_id("hydro", "41401800:2024-07-20") and w.event == "超警戒水位"
    assert "86.20米" in w.description and w.areas[0].codes == ["410122100201"]


def test_hydro_readings_dedupe_and_escalate() -> None:
    first = parse(hydro(), "flood")
    again = parse(hydro(water_level_m=86.4, observed_at="2024-07-20T08:10:00+08:00"), "flood")
    red = parse(hydro(water_level_m=88.3, observed_at="2024-07-20T09:00:00+08:00"), "flood")
    # A repeat at the same colour is the same (warning_id, version): a duplicate, not a new broadcast.
    assert (again.warning_id, again.version, again.identifier) == (
        first.warning_id,
        first.version,
        first.identifier,
    )
    assert red.warning_id == first.warning_id and red.version > first.version and red.severity is Severity.RED
    assert red.event == "超保证水位"


def test_hydro_below_warning_is_not_a_warning() -> None:
    err = reject(hydro(water_level_m=85.0), "flood")
    assert err.reason == "not_a_warning" and "water_level_m" in err.detail


def test_hydro_lift_cancels_the_days_chain() -> None:
    first = parse(hydro(), "flood")
    lift = parse(hydro(status="lifted", water_level_m=85.0, codes=None), "flood")
    assert lift.msg_type is MsgType.CANCEL and lift.warning_id == first.warning_id
    assert lift.references == ["hydro,41401800:2024-07-20,"] and lift.version > 4


def test_hydro_event_id_and_circle() -> None:
    w = parse(hydro(id="E-7", codes=None, radius_km=3, sender="zz-hydro"), "flood")
    assert w.warning_id == chain_id("zz-hydro", "41401800:E-7")
    assert w.areas[0].circles == [Circle(lat=34.80, lon=113.65, radius_km=3)] and not w.areas[0].codes


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"codes": None}, "missing_field", "codes"),
        ({"guarantee_level_m": 85.0}, "missing_field", "guarantee_level_m"),
        ({"lat": 95}, "invalid_field", "lat"),
        ({"water_level_m": "high"}, "invalid_field", "water_level_m"),
        ({"radius_km": -1}, "invalid_field", "radius_km"),
        ({"station_id": None}, "missing_field", "station_id"),
    ],
)
def test_bad_hydro(changes: dict[str, Any], reason: str, field: str) -> None:
    err = reject(hydro(**changes), "flood")
    assert err.reason == reason and err.detail.startswith(field), err


# --- forest fire --------------------------------------------------------------------------------------

FIRE: dict[str, Any] = {
    "kind": "forest_fire_danger",
    "level": 4,
    "areas": [{"description": "北部山区", "codes": ["410122101000", "410122102000"]}],
    "valid_from": "2024-03-01T20:00:00+08:00",
    "valid_to": "2024-03-02T20:00:00+08:00",
}


@pytest.mark.parametrize(
    ("level", "severity"), [(3, Severity.YELLOW), (4, Severity.ORANGE), (5, Severity.RED)]
)
def test_forest_fire_levels(level: int, severity: Severity) -> None:
    w = parse(encode(FIRE, level=level), "forest_fire")
    assert w.severity is severity and w.hazard is Hazard.FOREST_FIRE and w.version == severity.rank
    assert w.expires is not None and w.expires.day == 2


@pytest.mark.parametrize("level", [1, 2])
def test_forest_fire_low_levels_are_not_warnings(level: int) -> None:
    assert reject(encode(FIRE, level=level), "forest_fire").reason == "not_a_warning"


@pytest.mark.parametrize(("level", "field"), [(0, "level"), (6, "level"), ("high", "level")])
def test_forest_fire_bad_level(level: Any, field: str) -> None:
    err = reject(encode(FIRE, level=level), "forest_fire")
    assert err.reason == "invalid_field" and err.detail.startswith(field)


def test_forest_fire_chain_by_period_and_areas() -> None:
    a = parse(encode(FIRE), "forest_fire")
    reordered = [{"codes": ["410122102000", "410122101000"]}]
    b = parse(encode(FIRE, level=5, areas=reordered), "forest_fire")
    other = parse(encode(FIRE, areas=[{"codes": ["410122103000"]}]), "forest_fire")
    assert a.warning_id == b.warning_id != other.warning_id  # same period and area set: one chain
    assert b.version > a.version
    assert parse(encode(FIRE, id="B-1"), "forest_fire").warning_id == chain_id("forest_fire", "B-1")


def test_forest_fire_needs_areas() -> None:
    assert reject(encode(FIRE, areas=[]), "forest_fire").reason == "missing_field"


# --- geohazard ----------------------------------------------------------------------------------------

RISK: dict[str, Any] = {
    "kind": "geohazard_risk",
    "level": "orange",
    "codes": ["410122101000"],
    "valid_from": "2024-07-20 20:00:00",
    "valid_to": "2024-07-21 20:00:00",
    "text": "未来24小时地质灾害气象风险较高",
}


@pytest.mark.parametrize(
    ("level", "severity"), [("橙", Severity.ORANGE), ("red", Severity.RED), ("黄色", Severity.YELLOW)]
)
def test_geohazard_risk(level: str, severity: Severity) -> None:
    w = parse(encode(RISK, level=level), "geohazard")
    assert w.severity is severity and w.hazard is Hazard.GEOHAZARD and w.areas[0].codes == ["410122101000"]
    assert w.sent.utcoffset() is not None


def test_geohazard_risk_errors() -> None:
    assert reject(encode(RISK, level="purple"), "geohazard").reason == "unknown_severity"
    assert reject(encode(RISK, codes=None), "geohazard").reason == "missing_field"


POINT: dict[str, Any] = {
    "kind": "geohazard_point_alarm",
    "point_id": "HP-0042",
    "point_name": "后山滑坡隐患点",
    "sensor": "GNSS-01 位移",
    "value": 42.5,
    "threshold": 30,
    "unit": "mm",
    "lon": 113.51,
    "lat": 34.62,
    "alarm_level": "警戒",
    "observed_at": "2024-07-20T03:12:00+08:00",
}


def test_point_alarm_targets_the_point() -> None:
    w = parse(encode(POINT), "geohazard")
    assert w.severity is Severity.ORANGE and w.hazard is Hazard.GEOHAZARD
    area = w.areas[0]
    assert area.codes == ["point:HP-0042"]  # resolved to threatened households by the grid stage
    assert area.circles == [Circle(lat=34.62, lon=113.51, radius_km=0.5)]
    assert "42.5mm" in w.description and "30mm" in w.description
    assert w.warning_id == chain_id("geohazard", "point:HP-0042:2024-07-20")


@pytest.mark.parametrize(
    ("word", "severity"), [("警报级", Severity.RED), ("注意", Severity.BLUE), ("yellow", Severity.YELLOW)]
)
def test_point_alarm_levels(word: str, severity: Severity) -> None:
    assert parse(encode(POINT, alarm_level=word), "geohazard").severity is severity


def test_point_alarm_lift_and_errors() -> None:
    lift = parse(encode(POINT, status="解除"), "geohazard")
    assert lift.msg_type is MsgType.CANCEL and lift.areas[0].codes == ["point:HP-0042"]
    assert reject(encode(POINT, alarm_level="很危险"), "geohazard").reason == "unknown_severity"
    err = reject(encode(POINT, sensor=None), "geohazard")
    assert err.reason == "missing_field" and err.detail.startswith("sensor")
