"""What a dispatcher composes, where it can start from (a template or a CAP message), and the feed message
it becomes on release: the generic JSON format of docs/feeds.md on the `manual` feed topic — the same path
`warnengine broadcast` takes, so the pipeline records, resolves, signs and tracks it like any warning."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from warnengine.manual.feed import ManualArea, ManualWarning
from warnengine.model import Area, Hazard, MsgType, Severity, Status
from warnengine.resolve.index import NOT_A_CODE, code_prefix

SENDER = "warnengine-console"  # the county bureau's console; who pressed the button is in the audit log
MAX_POLYGON_POINTS = 5000


def _clean(v: str) -> str:
    # PostgreSQL text refuses NUL, and lone surrogates cannot be encoded: refuse both as bad input (400)
    # rather than let the database turn them into a 500.
    if "\x00" in v:
        raise ValueError("contains a NUL character")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("is not valid Unicode text") from e
    return v


Text = Annotated[str, AfterValidator(_clean)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
# county, township/village, group (village + 2 or 3 digits)
Code = Annotated[str, Field(pattern=r"^([0-9]{6}|[0-9]{12}|[0-9]{14,15})$")]


class AreaIn(BaseModel):
    """Administrative codes (townships, villages) and/or polygons of `[lon, lat]` points (GeoJSON order)."""

    model_config = ConfigDict(
        extra="forbid",
        # Said in the schema too, so clients (and the fuzzer) know an area needs one or the other.
        json_schema_extra={
            "anyOf": [
                {"required": ["codes"], "properties": {"codes": {"minItems": 1}}},
                {"required": ["polygons"], "properties": {"polygons": {"minItems": 1}}},
            ]
        },
    )

    description: Text = Field(default="", max_length=200)
    codes: list[Code] = Field(default_factory=list, max_length=2000)
    polygons: list[Annotated[list[tuple[Lon, Lat]], Field(min_length=3)]] = Field(
        default_factory=list, max_length=20
    )

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if code_prefix(c) is None]
        if bad:
            raise ValueError(f"{NOT_A_CODE}: {bad[:5]}")
        return list(dict.fromkeys(v))

    @field_validator("polygons")
    @classmethod
    def _polygons(cls, v: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        out = []
        for ring in v:
            if len(ring) > MAX_POLYGON_POINTS:
                raise ValueError(f"a polygon has more than {MAX_POLYGON_POINTS} points")
            if len(set(ring)) < 3:
                raise ValueError("a polygon needs at least 3 distinct points")
            out.append(ring if ring[0] == ring[-1] else [*ring, ring[0]])  # close it, as CAP requires
        return out

    def model_area(self) -> Area:
        return Area(description=self.description, polygons=self.polygons, codes=self.codes)


def _areas_not_empty(v: list[AreaIn]) -> list[AreaIn]:
    for i, a in enumerate(v):
        if not (a.codes or a.polygons):
            raise ValueError(f"area {i} names no code and no polygon")
    return v


Areas = Annotated[list[AreaIn], Field(min_length=1, max_length=50), AfterValidator(_areas_not_empty)]


class Compose(BaseModel):
    """A warning as the dispatcher composed it."""

    model_config = ConfigDict(extra="forbid")

    hazard: Hazard
    severity: Severity
    event: Text = Field(min_length=1, max_length=64)
    headline: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
    instruction: Text = Field(default="", max_length=1000)
    expires_min: float = Field(default=60.0, gt=0, le=24 * 60, allow_inf_nan=False)
    areas: Areas
    drill: bool = False  # 演练: CAP status Exercise, reaches only opted-in people and terminals


COMPOSE_FIELDS = tuple(Compose.model_fields)


class Template(BaseModel):
    name: str
    hazard: Hazard
    severity: Severity
    event: str
    headline: str
    description: str = ""
    instruction: str = ""
    expires_min: float = 60.0


def load_templates(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Template.model_validate(t).model_dump(mode="json") for t in doc.get("templates", [])]


def from_cap(raw: str, now: datetime) -> dict[str, Any]:
    """A CAP (or national-dialect, or JSON) message as a starting point. Raises FeedError."""
    from warnengine.normalise import parse_feed
    from warnengine.resolve.index import circle_polygon

    w = parse_feed(raw.encode("utf-8"), "manual")
    areas = []
    for a in w.areas:
        polygons = [list(p) for p in a.polygons]
        polygons += [list(circle_polygon(c).exterior.coords) for c in a.circles]
        if a.codes or polygons:
            areas.append({"description": a.description[:200], "codes": a.codes, "polygons": polygons})
    expires = 60.0
    if w.expires is not None:
        expires = min(max((w.expires - now).total_seconds() / 60, 1.0), 24 * 60.0)
    return {
        "hazard": w.hazard.value,
        "severity": w.severity.value,
        "event": w.event[:64],
        "headline": (w.headline or w.event)[:200],
        "description": w.description[:2000],
        "instruction": w.instruction[:1000],
        "expires_min": math.floor(expires),
        "areas": areas,
        "drill": w.status is Status.EXERCISE,
    }


def feed_message(
    c: Compose,
    *,
    identifier: str,
    msg_type: MsgType,
    references: list[str],
    now: datetime,
) -> tuple[bytes, str]:
    """The generic-JSON feed message for one release, and its reference triple for later messages."""
    areas: list[ManualArea] = []
    for a in c.areas:
        if a.codes:
            areas.append(ManualArea(a.description or c.event, codes=a.codes))
        for ring in a.polygons:
            areas.append(ManualArea(a.description or c.event, polygon=ring))
    msg = ManualWarning(
        sender=SENDER,
        identifier=identifier,
        sent=now.astimezone(UTC).replace(microsecond=0),
        expires=(now + timedelta(minutes=c.expires_min)).astimezone(UTC),
        msg_type=msg_type,
        drill=c.drill,
        hazard=c.hazard,
        severity=c.severity,
        event=c.event,
        headline=c.headline,
        description=c.description,
        instruction=c.instruction,
        areas=areas,
        references=references,
    )
    return msg.payload(), msg.reference
