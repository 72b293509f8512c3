"""Helpers shared by the dialect parsers: safe XML, text, colours, times, CAP geometry, chain ids."""

from __future__ import annotations

import html
import math
import re
from datetime import datetime, tzinfo
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from warnengine.model import Circle, Hazard, MsgType, Severity
from warnengine.model.warning import chain_id
from warnengine.normalise.errors import FeedError


def parse_xml(body: bytes) -> Element:
    """Parse untrusted XML: any DTD, entity declaration or external reference is refused outright."""
    try:
        root: Element = safe_et.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError("xml_forbidden_construct", f"{type(exc).__name__}: {exc}") from exc
    except (ParseError, LookupError) as exc:  # LookupError: an encoding declaration Python does not know
        raise FeedError("xml_malformed", f"{type(exc).__name__}: {exc}") from exc
    return root


_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean_text(value: str | None) -> str:
    """Strip, unescape HTML entities, and turn <br> into newlines (feeds embed HTML in CAP text)."""
    if not value:
        return ""
    return _BR.sub("\n", html.unescape(value)).strip()


_COLOUR_WORDS = {
    "blue": Severity.BLUE,
    "yellow": Severity.YELLOW,
    "orange": Severity.ORANGE,
    "red": Severity.RED,
    "蓝": Severity.BLUE,
    "黄": Severity.YELLOW,
    "橙": Severity.ORANGE,
    "红": Severity.RED,
}
_COLOUR_IN_TEXT = re.compile(r"\b(?:blue|yellow|orange|red)\b|[蓝黄橙红]", re.IGNORECASE)


def colour_in(text: str) -> Severity | None:
    """The first colour word inside free text, e.g. MeteoAlarm's "2; yellow; Moderate"."""
    match = _COLOUR_IN_TEXT.search(text)
    return _COLOUR_WORDS[match.group(0).lower()] if match else None


def colour_exact(text: str) -> Severity | None:
    """A field that is only a colour: "Blue", "red", "蓝", "蓝色"."""
    word = text.strip().lower().removesuffix("色")
    return _COLOUR_WORDS.get(word)


_FLOOD_WORDS = ("flood", "山洪", "洪", "水情")
_QUAKE_WORDS = ("earthquake", "地震")


def hazard_from_text(text: str) -> Hazard | None:
    """Hazards recognisable from the event text alone, whatever category the sender chose."""
    lowered = text.lower()
    if any(w in lowered for w in _FLOOD_WORDS):
        return Hazard.FLOOD
    if any(w in lowered for w in _QUAKE_WORDS):
        return Hazard.EARTHQUAKE
    return None


_CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")


def parse_time(
    text: str, field: str, *, cap_strict: bool = False, default_tz: tzinfo | None = None
) -> datetime:
    """An ISO 8601 date-time with a UTC offset. `cap_strict`: exactly CAP 1.2's form, 'Z' refused.

    `default_tz` is applied to a time without offset (the national dialect is Beijing time by definition);
    without it such a time is refused.
    """
    value = text.strip()
    if cap_strict and not _CAP_TIME.fullmatch(value):
        raise FeedError(
            "cap_rule_violation", f"{field} {value!r}: CAP needs YYYY-MM-DDThh:mm:ss±hh:mm (no 'Z')"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FeedError("bad_time", f"{field} {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        if default_tz is None:
            raise FeedError("bad_time", f"{field} {value!r} has no UTC offset")
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def _lat_lon(lat_text: str, lon_text: str, where: str) -> tuple[float, float]:
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as exc:
        raise FeedError("cap_rule_violation", f"{where}: {lat_text},{lon_text} is not a number pair") from exc
    # float() accepts "nan" and "inf"; NaN also slips through range checks, so test finiteness first.
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise FeedError("cap_rule_violation", f"{where}: {lat_text},{lon_text} is not a WGS 84 lat,lon")
    return lat, lon


def parse_cap_polygon(text: str, where: str) -> list[tuple[float, float]]:
    """CAP "lat,lon lat,lon ..." → a closed ring of (lon, lat), as the model stores it."""
    ring: list[tuple[float, float]] = []
    for pair in text.split():
        parts = pair.split(",")
        if len(parts) != 2:
            raise FeedError("cap_rule_violation", f"{where}: {pair[:40]!r} is not a 'lat,lon' pair")
        lat, lon = _lat_lon(parts[0], parts[1], where)
        ring.append((lon, lat))
    if len(ring) < 4:
        raise FeedError(
            "cap_rule_violation", f"{where} has {len(ring)} points; CAP needs at least 4 with first == last"
        )
    if ring[0] != ring[-1]:
        raise FeedError("cap_rule_violation", f"{where} is not closed: first point != last point")
    return ring


def parse_cap_circle(text: str, where: str) -> Circle:
    """CAP "lat,lon radius_km"."""
    parts = text.split()
    centre = parts[0].split(",") if parts else []
    if len(parts) != 2 or len(centre) != 2:
        raise FeedError("cap_rule_violation", f"{where} {text.strip()[:40]!r} is not 'lat,lon radius'")
    lat, lon = _lat_lon(centre[0], centre[1], where)
    try:
        radius = float(parts[1])
    except ValueError as exc:
        raise FeedError("cap_rule_violation", f"{where}: radius {parts[1]!r} is not a number") from exc
    if not (math.isfinite(radius) and radius >= 0):
        raise FeedError("cap_rule_violation", f"{where}: radius {parts[1]!r} must be >= 0")
    try:
        return Circle(lat=lat, lon=lon, radius_km=radius)
    except ValidationError as exc:  # unreachable after the checks above; keeps the error type uniform
        raise FeedError("cap_rule_violation", f"{where}: {exc.errors()[0]['msg']}") from exc


def first_empty(label: str, polygons: list[str], circles: list[str]) -> str:
    """The name of the first empty <polygon>/<circle> of an area ("" when none is empty)."""
    for kind, texts in (("polygon", polygons), ("circle", circles)):
        for index, text in enumerate(texts):
            if not text.strip():
                return f"{label} {kind}[{index}]"
    return ""


def check_empty_geometry(empty: str, area_empty: bool, *, strict: bool) -> None:
    """Empty <polygon/>/<circle/> elements: CAP 1.2 (`strict`) refuses them, since §3.3.4 requires at
    least 4 points and a centre. The lenient dialects (CAP 1.1 from legacy feeds, the national dialect,
    where empty elements next to area codes are the norm) ignore them, unless that leaves the area with
    nothing at all: the sender meant a geometry, and an area that targets nobody must not pass silently.
    """
    if not empty:
        return
    if strict:
        raise FeedError("cap_rule_violation", f"{empty} is empty; CAP 1.2 needs its points")
    if area_empty:
        raise FeedError(
            "cap_rule_violation", f"{empty} is empty and the area has no other polygon, circle or geocode"
        )


def chain_and_version(
    msg_type: MsgType, sender: str, identifier: str, refs: list[tuple[str, str]]
) -> tuple[str, int]:
    """(warning_id, version). An Alert starts a chain; Update/Cancel join the chain of their FIRST reference.

    The version is 1 + the number of references: a heuristic that holds when each message lists the whole
    history; out-of-order and partial-history feeds are handled later, by the warning store.
    """
    if msg_type is MsgType.ALERT or not refs:
        return chain_id(sender, identifier), 1
    first_sender, first_identifier = refs[0]
    return chain_id(first_sender, first_identifier), 1 + len(refs)


def shorten(text: str, limit: int = 60) -> str:
    """One line, at most `limit` characters: for naming elements in error details."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def feed_error(exc: ValidationError, severity_fields: frozenset[str] = frozenset({"severity"})) -> FeedError:
    """The first pydantic error → a FeedError naming the field ("areas.0.polygon")."""
    errors = exc.errors()
    first = errors[0]
    loc, kind = first["loc"], first["type"]
    field = ".".join(str(p) for p in loc) or "(document)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    detail = f"{field}: {first['msg']}{more}"
    if kind == "json_invalid" or not loc:
        return FeedError("bad_json", detail)
    if kind == "missing":
        return FeedError("missing_field", detail)
    if loc[0] in severity_fields:
        return FeedError("unknown_severity", f"{detail}; got {first.get('input')!r}")
    if kind.startswith(("datetime", "timezone")):
        return FeedError("bad_time", detail)
    return FeedError("invalid_field", detail)
