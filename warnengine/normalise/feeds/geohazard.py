"""Geohazard feeds, topic `geohazard`: area risk warnings and monitoring-point alarms.

Risk level per area (地质灾害气象风险预警), "kind": "geohazard_risk":

    level       yellow|orange|red (黄|橙|红; blue|蓝 accepted where a province issues IV级), required
    codes       [str] and/or areas [{"description", "codes", "polygon", "circle"}]; one is required
    valid_from  date-time, required;  valid_to  date-time (the expiry)
    sender      default "geohazard";  id: the bulletin's id
    chain key   `id`, or "<valid_from>:<digest of the sorted area codes>"; version = severity rank

Monitoring-point alarm (监测点预警), "kind": "geohazard_point_alarm":

    point_id     str, required         the monitoring point (隐患点) id
    point_name   str
    sensor       str, required         e.g. "GNSS-01 位移", "雨量计"
    value        float, required;  threshold  float, required;  unit  str
    lon, lat     WGS 84 degrees, required
    alarm_level  colour word, or 注意/警示/警戒/警报(级) = blue/yellow/orange/red, required
    observed_at  date-time, required
    radius_km    float, default 0.5    the circle drawn around the point
    codes        [str]                 extra area codes, if the feed names them
    sender       default "geohazard";  id: the feed's alarm id
    chain key    "point:<point_id>:<id>", or "point:<point_id>:<Beijing date of observed_at>"

The point alarm's area has the code "point:<point_id>" and a small circle around the point. The point's
threatened households (受威胁户) and point lead (点长) are resolved from that code by the grid stage;
the circle is the fallback when the point is unknown there.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from warnengine.model import Area, Circle, Hazard, HazardWarning, Severity
from warnengine.normalise.common import clean_text
from warnengine.normalise.feeds.base import (
    BEIJING,
    COLOUR_ZH,
    Colour,
    Envelope,
    Finite,
    Lifecycle,
    NonEmpty,
    Time,
    level_chain,
    require,
    validate,
)
from warnengine.normalise.feeds.forest_fire import area_digest
from warnengine.normalise.json_feed import JsonArea, Lat, Lon, to_area

# 地质灾害监测预警 levels as monitoring systems name them.
_ALARM_WORDS = {"注意": Severity.BLUE, "警示": Severity.YELLOW, "警戒": Severity.ORANGE, "警报": Severity.RED}


def _alarm_word(value: Any) -> Any:
    if isinstance(value, str):
        return _ALARM_WORDS.get(value.strip().removesuffix("级"), value)
    return value


class GeohazardRisk(Envelope):
    level: Colour
    codes: list[str] = Field(default_factory=list)
    areas: list[JsonArea] = Field(default_factory=list)
    valid_from: Time
    valid_to: Time | None = None


class GeohazardPointAlarm(Envelope):
    point_id: NonEmpty
    point_name: str = ""
    sensor: NonEmpty
    value: Finite
    threshold: Finite
    unit: str = ""
    lon: Lon
    lat: Lat
    alarm_level: Annotated[Colour, BeforeValidator(_alarm_word)]
    observed_at: Time
    radius_km: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 0.5
    codes: list[str] = Field(default_factory=list)


def parse_geohazard_risk(body: bytes) -> HazardWarning:
    doc = validate(GeohazardRisk, body, frozenset({"level"}))
    lifted = doc.status is Lifecycle.LIFTED
    areas = list(doc.areas)
    if doc.codes:
        areas.append(JsonArea(codes=doc.codes))
    require(lifted or bool(areas), "codes", "codes or areas are required")
    key = doc.id or f"{doc.valid_from.isoformat()}:{area_digest(areas)}"
    chain = level_chain(doc, doc.sender or "geohazard", key, doc.level, doc.valid_from)
    colour = COLOUR_ZH[doc.level]
    return HazardWarning(
        **chain,
        sent=doc.valid_from,
        status=doc.cap_status,
        hazard=Hazard.GEOHAZARD,
        severity=doc.level,
        event="地质灾害气象风险预警",
        headline=clean_text(doc.headline)
        or ("解除地质灾害气象风险预警" if lifted else f"地质灾害气象风险{colour}色预警"),
        description=clean_text(doc.text),
        instruction=clean_text(doc.instruction),
        expires=doc.valid_to,
        areas=[to_area(a) for a in areas],
    )


def parse_geohazard_point_alarm(body: bytes) -> HazardWarning:
    doc = validate(GeohazardPointAlarm, body, frozenset({"alarm_level"}))
    episode = doc.id or doc.observed_at.astimezone(BEIJING).date().isoformat()
    key = f"point:{doc.point_id}:{episode}"
    chain = level_chain(doc, doc.sender or "geohazard", key, doc.alarm_level, doc.observed_at)
    name = doc.point_name or doc.point_id
    area = Area(
        description=name,
        circles=[Circle(lat=doc.lat, lon=doc.lon, radius_km=doc.radius_km)],
        codes=list(dict.fromkeys([f"point:{doc.point_id}", *(c for c in doc.codes if c)])),
    )
    reading = f"{doc.sensor}读数{doc.value:g}{doc.unit}，阈值{doc.threshold:g}{doc.unit}"
    lifted = doc.status is Lifecycle.LIFTED
    return HazardWarning(
        **chain,
        sent=doc.observed_at,
        status=doc.cap_status,
        hazard=Hazard.GEOHAZARD,
        severity=doc.alarm_level,
        event="地质灾害监测预警",
        headline=clean_text(doc.headline)
        or (f"{name}解除监测预警" if lifted else f"{name}地质灾害监测{COLOUR_ZH[doc.alarm_level]}色预警"),
        description=clean_text(doc.text) or reading,
        instruction=clean_text(doc.instruction),
        areas=[area],
    )
