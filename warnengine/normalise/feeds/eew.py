"""Earthquake early warning (地震预警), topic `earthquake`, "kind": "eew".

    kind                 "eew", required
    event_id             str, required         the EEW centre's event id
    report               int ≥ 1, default 1    第 N 报: later reports refine the first
    magnitude            float 0–10, required
    depth_km             float ≥ 0, required
    lat, lon             epicentre, WGS 84 degrees, required
    origin_time          date-time, required   (no offset → Beijing time)
    epicentre            str                   place name, e.g. "四川宜宾市长宁县"
    intensity_radius_km  {"VI": 35.0, "VII": 12.5, ...}, required
                         expected intensity (Roman I–XII or Arabic 1–12) → radius in km of the area
                         reaching at least that intensity
    expires_at           date-time; default origin_time + 10 minutes (an EEW is useless later, and a
                         loudspeaker must never replay it hours after)
    sender               default "eew";  status: issued|updated|lifted|cancelled (误报取消 → Cancel)

Rule: red, within a circle around the epicentre whose radius is the largest radius given for an
intensity ≥ VI (strong shaking: damage begins). Intensities below VI everywhere → not_a_warning.
Chain key: event_id; version = the report number (report 1 is the Alert, later ones Updates); a
cancellation is a Cancel stamped with its time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from warnengine.model import Area, Circle, Hazard, HazardWarning, MsgType, Severity
from warnengine.normalise.common import clean_text
from warnengine.normalise.errors import FeedError
from warnengine.normalise.feeds.base import (
    Envelope,
    Lifecycle,
    NonEmpty,
    Time,
    chain_fields,
    not_a_warning,
    stamp_version,
    validate,
)
from warnengine.normalise.json_feed import Lat, Lon

WARN_INTENSITY = 6  # VI
DEFAULT_VALIDITY = timedelta(minutes=10)
_ROMAN_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
_ROMAN = {r: i for i, r in enumerate(_ROMAN_NUMERALS, start=1)}
_ROMAN_BY_VALUE = {i: r for r, i in _ROMAN.items()}


class EarthquakeEarlyWarning(Envelope):
    event_id: NonEmpty
    report: Annotated[int, Field(ge=1)] = 1
    magnitude: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    depth_km: Annotated[float, Field(ge=0, le=800, allow_inf_nan=False)]
    lat: Lat
    lon: Lon
    origin_time: Time
    epicentre: str = ""
    intensity_radius_km: dict[str, Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)]]
    expires_at: Time | None = None


def intensity(key: str) -> int:
    """ "VI", "6", "6度", "VI度" → 6. Raises FeedError naming the key."""
    text = key.strip().upper().removesuffix("度")
    # isdecimal (not isdigit: int() refuses "²") and short (int() refuses 4,300+ digits).
    value = _ROMAN.get(text) or (int(text) if text.isdecimal() and len(text) <= 2 else 0)
    if not 1 <= value <= 12:
        raise FeedError("invalid_field", f"intensity_radius_km.{key}: not an intensity I–XII")
    return value


def warning_radius_km(radii: dict[str, float]) -> tuple[float, int]:
    """(radius of the ≥ VI area, highest intensity named); radius 0 when nothing reaches VI."""
    levels = [(intensity(k), r) for k, r in radii.items()]
    reaching = [r for i, r in levels if i >= WARN_INTENSITY]
    return (max(reaching) if reaching else 0.0), max((i for i, _ in levels), default=0)


def parse_eew(body: bytes) -> HazardWarning:
    doc = validate(EarthquakeEarlyWarning, body)
    sender = doc.sender or "eew"
    lifted = doc.status is Lifecycle.LIFTED
    radius, top = warning_radius_km(doc.intensity_radius_km)
    if radius <= 0 and not lifted:
        top_text = _ROMAN_BY_VALUE.get(top, "none")
        raise not_a_warning(f"intensity_radius_km: no area reaches intensity VI (highest: {top_text})")
    if lifted:
        chain = chain_fields(
            sender, doc.event_id, MsgType.CANCEL, stamp_version(doc.origin_time), "cancelled"
        )
    else:
        msg_type = MsgType.ALERT if doc.report == 1 else MsgType.UPDATE
        chain = chain_fields(
            sender, doc.event_id, msg_type, doc.report, None if doc.report == 1 else f"r{doc.report}"
        )
    place = doc.epicentre or f"北纬{doc.lat:.2f}度、东经{doc.lon:.2f}度"
    circles = [Circle(lat=doc.lat, lon=doc.lon, radius_km=radius)] if radius > 0 else []
    return HazardWarning(
        **chain,
        sent=doc.origin_time,
        status=doc.cap_status,
        hazard=Hazard.EARTHQUAKE,
        severity=Severity.RED,
        event="地震预警",
        headline=clean_text(doc.headline)
        or (f"解除地震预警（{place}）" if lifted else f"地震预警：{place}发生{doc.magnitude:.1f}级地震"),
        description=clean_text(doc.text) or _description(doc, radius),
        instruction=clean_text(doc.instruction) or "立即就近避险，远离门窗和悬挂物，震后有序撤离。",
        expires=doc.expires_at or doc.origin_time + DEFAULT_VALIDITY,
        areas=[Area(description=f"{place}周边", circles=circles)] if circles else [],
    )


def _description(doc: EarthquakeEarlyWarning, radius: float) -> str:
    return f"震源深度{doc.depth_km:g}公里，预计烈度VI度及以上范围半径约{radius:.0f}公里（第{doc.report}报）。"
