"""A normalised warning: what every feed dialect (CAP 1.2, the national dialect, JSON) becomes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(StrEnum):
    """Chinese warning colours, ordered blue < yellow < orange < red."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.BLUE: 1, Severity.YELLOW: 2, Severity.ORANGE: 3, Severity.RED: 4}


class Hazard(StrEnum):
    METEO = "meteo"
    FLOOD = "flood"
    FOREST_FIRE = "forest_fire"
    GEOHAZARD = "geohazard"
    EARTHQUAKE = "earthquake"
    OTHER = "other"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class Circle(BaseModel):
    model_config = ConfigDict(frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(ge=0)


class Area(BaseModel):
    """One CAP <area>: polygons are rings of (lon, lat), closed (first == last)."""

    model_config = ConfigDict(frozen=True)

    description: str = ""
    polygons: list[list[tuple[float, float]]] = Field(default_factory=list)
    circles: list[Circle] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)

    _no_nul = field_validator("description", mode="before")(lambda v: _strip_nul(v))

    @property
    def empty(self) -> bool:
        return not (self.polygons or self.circles or self.codes)


def _strip_nul(v: object) -> object:
    return v.replace("\x00", "") if isinstance(v, str) else v


def chain_id(sender: str, identifier: str) -> str:
    """Stable id of a warning chain, derived from the first message's CAP key."""
    return "w-" + hashlib.sha256(f"{sender}\x1f{identifier}".encode()).hexdigest()[:16]


class HazardWarning(BaseModel):
    """One version of a warning. `warning_id` names the chain; (warning_id, version) names this message."""

    model_config = ConfigDict(frozen=True)

    warning_id: str
    version: int = Field(ge=1)
    sender: str
    identifier: str
    sent: datetime
    msg_type: MsgType
    status: Status
    hazard: Hazard
    severity: Severity
    event: str
    headline: str = ""
    description: str = ""
    instruction: str = ""
    language: str = "zh-CN"
    expires: datetime | None = None
    areas: list[Area] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    source: str = "unknown"

    # NUL means nothing in a warning's text, and PostgreSQL's text type refuses it.
    _no_nul = field_validator(
        "sender", "identifier", "event", "headline", "description", "instruction", mode="before"
    )(lambda v: _strip_nul(v))

    @property
    def has_area(self) -> bool:
        return any(not a.empty for a in self.areas)

    def broadcast_text(self) -> str:
        """What a loudspeaker reads out: headline, then the instruction people must follow."""
        parts = [p for p in (self.headline or self.event, self.description, self.instruction) if p]
        return "。".join(p.rstrip("。") for p in parts) + "。"
