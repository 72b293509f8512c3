"""A simple JSON warning format → Warning.

One UTF-8 JSON object:

    sender        str, required         the issuing office's stable id
    identifier    str, required         unique per sender
    sent          str, required         ISO 8601 with a UTC offset: "2024-07-01T08:00:00+08:00" (or "...Z")
    msg_type      "Alert" | "Update" | "Cancel"                         default "Alert"
    status        "Actual" | "Exercise" | "System" | "Test" | "Draft"   default "Actual"
    hazard        "meteo" | "flood" | "forest_fire" | "geohazard" | "earthquake" | "other", required
    severity      "blue" | "yellow" | "orange" | "red", or 蓝 | 黄 | 橙 | 红 (蓝色 … too), required
    event         str, required
    headline, description, instruction, language    str, optional ("language" defaults to "zh-CN")
    expires       ISO 8601 with a UTC offset, optional
    areas         list, default []; each {"description": str,
                                          "polygon": [[lon, lat], ...]   >= 3 points, closed if open,
                                          "circle": {"lat": .., "lon": .., "radius_km": ..},
                                          "codes": [str, ...]}          every key optional
    references    list of "sender,identifier,sent" triples, or bare identifiers of this sender; default []

Coordinates are [lon, lat] (GeoJSON order), unlike CAP's "lat,lon". Unknown keys are ignored so that
producers can add fields without breaking us. Errors become FeedError naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from warnengine.model import Area, Circle, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.normalise.common import chain_and_version, clean_text, colour_exact, feed_error

Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


def _to_severity(value: Any) -> Any:
    if isinstance(value, str) and (colour := colour_exact(value)) is not None:
        return colour
    return value  # left for the enum check to reject with the field's name


class JsonCircle(BaseModel):
    lat: Lat
    lon: Lon
    radius_km: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class JsonArea(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    description: str = ""
    polygon: Annotated[list[tuple[Lon, Lat]], Field(min_length=3)] | None = None
    circle: JsonCircle | None = None
    codes: list[str] = Field(default_factory=list)

    @field_validator("polygon")
    @classmethod
    def _close_ring(cls, ring: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if ring and ring[0] != ring[-1]:
            return [*ring, ring[0]]
        return ring


class JsonWarning(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    sender: Annotated[str, Field(min_length=1)]
    identifier: Annotated[str, Field(min_length=1)]
    sent: AwareDatetime
    msg_type: MsgType = MsgType.ALERT
    status: Status = Status.ACTUAL
    hazard: Hazard
    severity: Annotated[Severity, BeforeValidator(_to_severity)]
    event: Annotated[str, Field(min_length=1)]
    headline: str = ""
    description: str = ""
    instruction: str = ""
    language: str = "zh-CN"
    expires: AwareDatetime | None = None
    areas: list[JsonArea] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


def parse_json(body: bytes) -> HazardWarning:
    """JSON bytes (BOM already stripped) → Warning."""
    try:
        doc = JsonWarning.model_validate_json(body)
    except ValidationError as exc:
        raise feed_error(exc) from exc
    # Bare identifiers belong to this sender; stored like the national dialect's, "sender,identifier,".
    references = [ref if "," in ref else f"{doc.sender},{ref}," for ref in doc.references if ref]
    refs = [(parts[0], parts[1]) for parts in (ref.split(",") for ref in references)]
    warning_id, version = chain_and_version(doc.msg_type, doc.sender, doc.identifier, refs)
    return HazardWarning(
        warning_id=warning_id,
        version=version,
        sender=doc.sender,
        identifier=doc.identifier,
        sent=doc.sent,
        msg_type=doc.msg_type,
        status=doc.status,
        hazard=doc.hazard,
        severity=doc.severity,
        event=clean_text(doc.event),
        headline=clean_text(doc.headline),
        description=clean_text(doc.description),
        instruction=clean_text(doc.instruction),
        language=doc.language or "zh-CN",
        expires=doc.expires,
        areas=[to_area(a) for a in doc.areas],
        references=references,
    )


def to_area(area: JsonArea) -> Area:
    circle = area.circle
    return Area(
        description=clean_text(area.description),
        polygons=[area.polygon] if area.polygon else [],
        circles=[Circle(lat=circle.lat, lon=circle.lon, radius_km=circle.radius_km)] if circle else [],
        codes=list(dict.fromkeys(c for c in area.codes if c)),
    )


__all__ = ["JsonArea", "JsonCircle", "JsonWarning", "Lat", "Lon", "parse_json", "to_area"]
