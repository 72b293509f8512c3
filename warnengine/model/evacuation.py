"""Evacuation (转移) to disaster shelters (避灾安置场所), issue 17: the shelters of the directory, and what a
visitor records per threatened household."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Shelter(BaseModel):
    """A disaster shelter (安置点) in the directory's optional shelters(.csv|.xlsx)."""

    model_config = ConfigDict(frozen=True)

    shelter_id: str
    cell_code: str
    name: str
    lon: float
    lat: float
    capacity: int  # persons
    keeper_person_id: str | None = None  # who checks people in (管理员)


class EvacOutcome(StrEnum):
    EVACUATED = "evacuated"  # to the shelter, or to relatives (destination says which)
    REFUSED = "refused"  # 拒绝转移: a field report, and the village grid head visits again
    NEEDS_HELP = "needs_help"  # cannot leave unaided: a field report with the inbox's deadline
    AWAY = "away"  # not at home: elsewhere already


class Destination(StrEnum):
    SHELTER = "shelter"
    RELATIVES = "relatives"  # 投亲靠友


class Zone(BaseModel):
    """A threatened zone (e.g. flood-prone low land, 低洼易涝区) of the directory's optional zones.geojson:
    every household inside it is threatened, as a monitoring point's threatened households are."""

    model_config = ConfigDict(frozen=True)

    zone_id: str
    name: str
    kind: str  # flood_prone | river_crossing | reservoir_downstream | …
    geometry: dict[str, Any]  # GeoJSON Polygon / MultiPolygon, WGS84
    households: tuple[str, ...] = ()  # the households inside, worked out when the directory is read
