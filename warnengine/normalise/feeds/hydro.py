"""Hydrological station exceedance (水情超警), topic `flood`, "kind": "hydro_exceedance".

    kind               "hydro_exceedance", required
    station_id         str, required
    station_name       str, required
    river              str
    lon, lat           WGS 84 degrees, required
    water_level_m      float, required     the observed level
    warning_level_m    float, required     警戒水位
    guarantee_level_m  float, required     保证水位, must be above the warning level
    observed_at        date-time, required (no offset → Beijing time)
    codes              [str]               administrative / grid codes downstream of the station
    radius_km          float > 0           and/or a circle around the station
    sender             str                 default "hydro"
    id                 str                 the feed's exceedance event id, if it has one
    status, drill, headline, text, instruction   as for every native feed

Severity (documented rule, from the station's own thresholds):
- level < warning level            → rejected as not_a_warning (unless status is lifted)
- warning ≤ level < midpoint       → yellow  (超警戒水位)
- midpoint ≤ level < guarantee     → orange  (midpoint = warning + (guarantee − warning) / 2)
- level ≥ guarantee level          → red     (超保证水位)

Chain key: "<station_id>:<id>", or without an id "<station_id>:<Beijing date of observed_at>" — one
warning per station per day: readings repeat every few minutes and must not each be broadcast. Version
is the severity rank, so a repeated reading is a duplicate, a rise to a higher colour supersedes, and a
fall is recorded without a new broadcast (a lift — status lifted — ends the warning).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from warnengine.model import Area, Circle, Hazard, HazardWarning, Severity
from warnengine.normalise.common import clean_text
from warnengine.normalise.feeds.base import (
    BEIJING,
    COLOUR_ZH,
    Envelope,
    Finite,
    Lifecycle,
    NonEmpty,
    Time,
    level_chain,
    not_a_warning,
    require,
    validate,
)
from warnengine.normalise.json_feed import Lat, Lon


class HydroExceedance(Envelope):
    station_id: NonEmpty
    station_name: NonEmpty
    river: str = ""
    lon: Lon
    lat: Lat
    water_level_m: Finite
    warning_level_m: Finite
    guarantee_level_m: Finite
    observed_at: Time
    codes: list[str] = Field(default_factory=list)
    radius_km: Annotated[float, Field(gt=0, le=200, allow_inf_nan=False)] | None = None


def hydro_severity(level: float, warning: float, guarantee: float) -> Severity | None:
    """The documented thresholds; None below the warning level."""
    if level >= guarantee:
        return Severity.RED
    if level >= warning + (guarantee - warning) / 2:
        return Severity.ORANGE
    if level >= warning:
        return Severity.YELLOW
    return None


def parse_hydro_exceedance(body: bytes) -> HazardWarning:
    doc = validate(HydroExceedance, body)
    require(
        doc.guarantee_level_m > doc.warning_level_m,
        "guarantee_level_m",
        f"{doc.guarantee_level_m} must be above warning_level_m {doc.warning_level_m}",
    )
    lifted = doc.status is Lifecycle.LIFTED
    severity = hydro_severity(doc.water_level_m, doc.warning_level_m, doc.guarantee_level_m)
    if severity is None and not lifted:
        raise not_a_warning(
            f"water_level_m: {doc.water_level_m} is below warning_level_m {doc.warning_level_m} "
            f"at station {doc.station_id!r}"
        )
    require(lifted or bool(doc.codes or doc.radius_km), "codes", "codes or radius_km are required")
    severity = severity or Severity.BLUE  # only for a lift, which names no colour of its own
    sender = doc.sender or "hydro"
    episode = doc.id or doc.observed_at.astimezone(BEIJING).date().isoformat()
    chain = level_chain(doc, sender, f"{doc.station_id}:{episode}", severity, doc.observed_at)
    circles = [Circle(lat=doc.lat, lon=doc.lon, radius_km=doc.radius_km)] if doc.radius_km else []
    area = Area(
        description=f"{doc.river}{doc.station_name}站",
        circles=circles,
        codes=list(dict.fromkeys(c for c in doc.codes if c)),
    )
    event = "超保证水位" if severity is Severity.RED else "超警戒水位"
    return HazardWarning(
        **chain,
        sent=doc.observed_at,
        status=doc.cap_status,
        hazard=Hazard.FLOOD,
        severity=severity,
        event=event,
        headline=clean_text(doc.headline) or _headline(doc, severity, lifted),
        description=clean_text(doc.text) or _description(doc),
        instruction=clean_text(doc.instruction),
        areas=[] if lifted and area.empty else [area],
    )


def _headline(doc: HydroExceedance, severity: Severity, lifted: bool) -> str:
    name = f"{doc.river}{doc.station_name}站"
    if lifted:
        return f"{name}水位回落，解除洪水预警"
    return f"{name}水位超{'保证' if severity is Severity.RED else '警戒'}，洪水{COLOUR_ZH[severity]}色预警"


def _description(doc: HydroExceedance) -> str:
    at = doc.observed_at.astimezone(BEIJING).strftime("%m月%d日%H时%M分")
    return (
        f"{at}{doc.station_name}站水位{doc.water_level_m:.2f}米"
        f"（警戒水位{doc.warning_level_m:.2f}米，保证水位{doc.guarantee_level_m:.2f}米）。"
    )
