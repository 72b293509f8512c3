"""Forest-fire danger level (森林火险气象等级), topic `forest_fire`, "kind": "forest_fire_danger".

    kind        "forest_fire_danger", required
    level       1..5, required          森林火险等级 (一级 … 五级)
    areas       [{"description", "codes", "polygon", "circle"}], required (≥ 1 unless lifted)
    valid_from  date-time, required     (no offset → Beijing time)
    valid_to    date-time               becomes the warning's expiry
    sender      str                     default "forest_fire"
    id          str                     the bulletin's id in the feed
    status, drill, headline, text, instruction   as for every native feed

Severity (the national 森林火险预警信号 scheme): level 1–2 (low, moderate) are not warnings and are
rejected as not_a_warning; 3 → yellow, 4 → orange, 5 → red. One level per message: a bulletin with
several levels is sent as one message per level.

Chain key: `id`, or "<valid_from>:<digest of the sorted area codes>" — one warning per bulletin period
and area set, so two bulletins for different areas in the same period stay separate warnings. Version
is the severity rank (a corrected, higher level supersedes; a lower one is not re-broadcast).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import Field

from warnengine.model import Hazard, HazardWarning, Severity
from warnengine.normalise.common import clean_text
from warnengine.normalise.feeds.base import (
    COLOUR_ZH,
    Envelope,
    Lifecycle,
    Time,
    level_chain,
    not_a_warning,
    require,
    validate,
)
from warnengine.normalise.json_feed import JsonArea, to_area

FOREST_FIRE_LEVELS: dict[int, Severity] = {3: Severity.YELLOW, 4: Severity.ORANGE, 5: Severity.RED}
_LEVEL_ZH = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五"}


class ForestFireDanger(Envelope):
    level: Annotated[int, Field(ge=1, le=5)]
    areas: list[JsonArea] = Field(default_factory=list)
    valid_from: Time
    valid_to: Time | None = None


def area_digest(areas: list[JsonArea]) -> str:
    """A short, order-independent name for a set of areas (codes; else the descriptions)."""
    names = sorted({c for a in areas for c in a.codes} or {a.description for a in areas})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()[:12]


def parse_forest_fire_danger(body: bytes) -> HazardWarning:
    doc = validate(ForestFireDanger, body)
    lifted = doc.status is Lifecycle.LIFTED
    severity = FOREST_FIRE_LEVELS.get(doc.level)
    if severity is None and not lifted:
        raise not_a_warning(f"level: forest-fire danger level {doc.level} is below 3 (no warning signal)")
    require(lifted or bool(doc.areas), "areas", "at least one area is required")
    severity = severity or Severity.BLUE  # only for a lift
    key = doc.id or f"{doc.valid_from.isoformat()}:{area_digest(doc.areas)}"
    chain = level_chain(doc, doc.sender or "forest_fire", key, severity, doc.valid_from)
    level = f"{_LEVEL_ZH[doc.level]}级"
    headline = f"森林火险{level}，{COLOUR_ZH[severity]}色预警" if not lifted else "解除森林火险预警"
    return HazardWarning(
        **chain,
        sent=doc.valid_from,
        status=doc.cap_status,
        hazard=Hazard.FOREST_FIRE,
        severity=severity,
        event=f"森林火险{level}",
        headline=clean_text(doc.headline) or headline,
        description=clean_text(doc.text),
        instruction=clean_text(doc.instruction),
        expires=doc.valid_to,
        areas=[to_area(a) for a in doc.areas],
    )
