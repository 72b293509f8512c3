"""Native JSON feed adapters, one per upstream feed topic (schemas in each module and docs/feeds.md).

`parse_feed` uses an adapter when the message's feed topic (`source`) has one for the object's
"kind"; any other JSON goes to the generic format (json_feed.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pydantic import BaseModel, ConfigDict, ValidationError

from warnengine.model import HazardWarning
from warnengine.normalise.feeds.eew import parse_eew
from warnengine.normalise.feeds.forest_fire import parse_forest_fire_danger
from warnengine.normalise.feeds.geohazard import parse_geohazard_point_alarm, parse_geohazard_risk
from warnengine.normalise.feeds.hydro import parse_hydro_exceedance
from warnengine.normalise.feeds.meteo import parse_meteo_signal
from warnengine.normalise.feeds.signal_table import SignalTable

Adapter = Callable[[bytes], HazardWarning]

# source (feed topic) → kind → adapter. Only meteo needs configuration (the signal table).
KINDS: dict[str, tuple[str, ...]] = {
    "meteo": ("meteo_signal",),
    "flood": ("hydro_exceedance",),
    "forest_fire": ("forest_fire_danger",),
    "geohazard": ("geohazard_risk", "geohazard_point_alarm"),
    "earthquake": ("eew",),
}


class _Kind(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: object = None


def sniff_kind(body: bytes) -> str | None:
    """The object's "kind" string, or None (not an object, no kind, or not JSON: the generic parser
    then reports the problem)."""
    try:
        kind = _Kind.model_validate_json(body).kind
    except ValidationError:
        return None
    return kind.strip() if isinstance(kind, str) else None


def adapter_for(source: str, kind: str | None, signals: SignalTable | None = None) -> Adapter | None:
    if kind is None or kind not in KINDS.get(source, ()):
        return None
    adapters: dict[str, Adapter] = {
        "meteo_signal": partial(parse_meteo_signal, table=signals),
        "hydro_exceedance": parse_hydro_exceedance,
        "forest_fire_danger": parse_forest_fire_danger,
        "geohazard_risk": parse_geohazard_risk,
        "geohazard_point_alarm": parse_geohazard_point_alarm,
        "eew": parse_eew,
    }
    return adapters[kind]


__all__ = ["KINDS", "SignalTable", "adapter_for", "sniff_kind"]
