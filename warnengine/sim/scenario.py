"""The scenario file of `warnengine simulate` (YAML; config/scenarios/ holds examples).

county:                      # either a directory (grid.geojson, *.csv) …
  dir: config/county
county:                      # … or a generated one (warnengine gen-county's arguments)
  generate: {villages: 150, townships: 13, households_per_group: [45, 65], seed: 1}
warning: {hazard: meteo, severity: red}   # county-wide; `codes: [...]` narrows it
minutes: 90                  # simulated minutes to run
step_s: 15                   # engine-clock step (the sweep and dispatch cadence)
terminals_offline: 0.10      # share of loudspeaker terminals that never answer
invalid_numbers: 0.05        # share of phone numbers the SMS provider refuses (21211)
never_reply: 0.40            # share of residents who never answer any message
reply_delay_min: [0.5, 10]   # the others answer after a uniform delay (minutes)
staff_never_reply: 0.0       # share of grid staff who never answer (their superior is called)
staff_reply_delay_min: [0.5, 4]
staff_calls_only: 0.0        # share of grid staff who answer a phone call (press 1) but never a text
night_asleep: 0.0            # night hours: share of everyone asleep — no text is read, a call wakes them
household_replies: 0.0       # share of residents whose answer is "全家" (their whole household heard it)
visits_per_hour: 20          # households a visitor (group leader, grid head) reaches per hour
visit_outcomes: {reached: 0.97, nobody_home: 0.03}
partly_home: 0.0             # of the doors found home, the share where only part of the household is
field:                       # issue 17: field reports and evacuation (sim/field.py)
  take_delay_min: [1, 8]     # a duty person takes a field report after this
  shelters: true             # a generated county: one shelter per village with threatened households
  evacuation_outcomes: {evacuated: 0.95, refused: 0.02, needs_help: 0.01, away: 0.02}
goal: {households_min: 60, vulnerable_min: 30, staff_min: 5}   # the summary names every household late
seed: 7
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from warnengine.model import Hazard, Severity


class Generate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    villages: int = Field(default=150, ge=3)
    townships: int = Field(default=13, ge=1)
    households_per_group: tuple[int, int] = (8, 16)
    seed: int = 1


class CountySource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path | None = None
    generate: Generate | None = None

    @model_validator(mode="after")
    def _one(self) -> CountySource:
        if (self.dir is None) == (self.generate is None):
            raise ValueError("county needs exactly one of `dir` or `generate`")
        return self


class WarningSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hazard: Hazard = Hazard.METEO
    severity: Severity = Severity.RED
    codes: list[str] = Field(default_factory=list)  # empty: the whole county


class Goal(BaseModel):
    """When every household, every vulnerable one, and every responsible person should be reached."""

    model_config = ConfigDict(extra="forbid")

    households_min: float = Field(default=60, gt=0)
    vulnerable_min: float = Field(default=30, gt=0)
    staff_min: float = Field(default=5, gt=0)
    # Issue 17 (sim/goals.py): every threatened person evacuated or named with the reason by this minute,
    # every vulnerable person accounted for (到人) by this one, every field report taken within this long.
    evacuation_min: float | None = Field(default=None, gt=0)
    vulnerable_persons_min: float | None = Field(default=None, gt=0)
    report_take_min: float | None = Field(default=None, gt=0)


Outcome = Literal["reached", "nobody_home", "refused", "moved", "needs_help"]
_ALL_REACHED: dict[Outcome, float] = {"reached": 1.0}


_REVISIT: dict[Outcome, float] = {"reached": 0.6, "moved": 0.3, "nobody_home": 0.1}
SHARE_TOLERANCE = 1e-6


EvacKind = Literal["evacuated", "refused", "needs_help", "away"]
_EVAC: dict[EvacKind, float] = {"evacuated": 0.95, "refused": 0.02, "needs_help": 0.01, "away": 0.02}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    take_delay_min: tuple[float, float] = (1.0, 8.0)  # a duty person takes a report after this (uniform)
    shelters: bool = True  # a generated county gets one shelter per village with threatened households
    shelter_capacity: int = Field(default=200, gt=0)
    # A generated county gets a vulnerable register (包保): each vulnerable household's helper is its group's
    # leader, up to `helper_doors` households, then the village's grid members, info officers and point
    # leads, least loaded first (sim/field.py with_register), so the policy's helper_first sends them at once.
    helpers: bool = True
    helper_doors: int = Field(default=4, ge=1)
    evacuation_outcomes: dict[EvacKind, float] = Field(default_factory=lambda: _EVAC.copy())
    to_relatives: float = Field(default=0.2, ge=0, le=1)  # of the evacuated: to relatives, not the shelter
    evacuate_delay_min: tuple[float, float] = (5.0, 45.0)  # order → the visitor's outcome (uniform)
    arrive_delay_min: tuple[float, float] = (5.0, 20.0)  # evacuated → checked in at the shelter


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    county: CountySource
    warning: WarningSpec = WarningSpec()
    minutes: float = Field(default=90, gt=0, le=24 * 60)
    step_s: float = Field(default=15, gt=0, le=600)
    terminals_offline: float = Field(default=0.0, ge=0, le=1)
    invalid_numbers: float = Field(default=0.0, ge=0, le=1)
    never_reply: float = Field(default=0.0, ge=0, le=1)
    reply_delay_min: tuple[float, float] = (0.5, 10.0)
    staff_never_reply: float = Field(default=0.0, ge=0, le=1)
    staff_reply_delay_min: tuple[float, float] = (0.5, 4.0)
    # Issue 16: staff who answer calls but not texts, and night hours (asleep: texts unread, calls wake).
    staff_calls_only: float = Field(default=0.0, ge=0, le=1)
    night_asleep: float = Field(default=0.0, ge=0, le=1)
    # Residents who, answering, answer for their whole household ("全家"): its members without a phone
    # are accounted for without a visit (model/household_reply.py).
    household_replies: float = Field(default=0.0, ge=0, le=1)
    visits_per_hour: float = Field(default=20, gt=0)
    visit_outcomes: dict[Outcome, float] = Field(default_factory=lambda: _ALL_REACHED.copy())
    # Of the doors a first visit finds home (`reached`), the share where only part of the household is: the
    # visitor gives a headcount of those present and the others are revisited (到人, "partly home").
    partly_home: float = Field(default=0.0, ge=0, le=1)
    # A nobody-home door visited again (issue 17): home now, away by a neighbour's word (`moved`), or still
    # nobody (final: whereabouts unknown). A `needs_help` case is always helped out by whoever holds it.
    revisit_outcomes: dict[Outcome, float] = Field(default_factory=lambda: _REVISIT.copy())
    # Issue 17: the duty room taking field reports, evacuation outcomes, shelters (sim/field.py).
    field: FieldSpec = FieldSpec()
    goal: Goal = Goal()
    seed: int = 7

    @field_validator("visit_outcomes", "revisit_outcomes")
    @classmethod
    def _shares(cls, v: dict[Outcome, float], info: ValidationInfo) -> dict[Outcome, float]:
        """Outcome shares are a split of every door: none negative, adding up to 1 (a typo such as
        0.97 + 0.3 would otherwise be silently renormalised)."""
        bad = {k: x for k, x in v.items() if x < 0}
        if bad:
            raise ValueError(f"{info.field_name}: a share cannot be negative: {bad}")
        if abs(sum(v.values()) - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"{info.field_name}: shares add up to {sum(v.values()):g}, not 1")
        return v

    @field_validator("reply_delay_min", "staff_reply_delay_min")
    @classmethod
    def _delays(cls, v: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        lo, hi = v
        if not 0 <= lo <= hi:
            raise ValueError(f"{info.field_name}: [low, high] minutes with 0 <= low <= high, not {list(v)}")
        return v


class ScenarioError(ValueError):
    pass


def unknown_codes(sc: Scenario, cells: Iterable[str], points: Iterable[str]) -> list[str]:
    """The warning's area codes the county does not have (cell codes at any level, or `point:<id>`):
    a warning that reaches nobody would simulate nothing and call the goal met."""
    known = set(cells) | {f"point:{p}" for p in points}
    return [c for c in sc.warning.codes if c not in known]


def load_scenario(path: Path) -> Scenario:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Scenario.model_validate(doc)
    except (OSError, yaml.YAMLError, ValueError) as e:
        raise ScenarioError(f"scenario {path}: {e}") from e
