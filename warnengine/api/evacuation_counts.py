"""The live counts of a warning's evacuation (转移): per village threatened / evacuated / refused / needs
help / away / checked in, per shelter its capacity, the persons assigned and checked in, over capacity
flagged — the console and `GET /api/v1/warnings/{id}/evacuation` read these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from warnengine.db.store import Store


class EvacCounts(BaseModel):
    threatened_households: int = 0
    threatened_persons: int = 0
    evacuated_persons: int = 0
    to_relatives_persons: int = 0
    refused: int = Field(default=0, description="households")
    needs_help: int = Field(default=0, description="households")
    away: int = Field(default=0, description="households")
    unrecorded: int = Field(default=0, description="households with no outcome yet")
    checked_in: int = Field(default=0, description="persons checked in at a shelter")


class VillageEvac(EvacCounts):
    code: str


class ShelterCount(BaseModel):
    shelter_id: str
    name: str
    cell_code: str
    capacity: int
    assigned_persons: int
    checked_in: int
    over_capacity: bool = Field(description="checked in (or, before anyone is, assigned) above capacity")


class EvacuationStatus(EvacCounts):
    warning_id: str
    villages: list[VillageEvac]
    shelters: list[ShelterCount]


def _add(c: EvacCounts, h: dict[str, Any], checked: int) -> None:
    c.threatened_households += 1
    c.threatened_persons += int(h["persons"])
    if h["outcome"] == "evacuated":
        if h["destination"] == "relatives":
            c.to_relatives_persons += int(h["evacuated_persons"])
        else:
            c.evacuated_persons += int(h["evacuated_persons"])
    elif h["outcome"] in ("refused", "needs_help", "away"):
        setattr(c, h["outcome"], getattr(c, h["outcome"]) + 1)
    else:
        c.unrecorded += 1
    c.checked_in += checked


async def evacuation_status(store: Store, warning_id: str) -> EvacuationStatus:
    homes = await store.evacuation_households(warning_id)
    by_home = await store.checked_in_by_household(warning_id)
    at_shelter = await store.checked_in(warning_id)
    out = EvacuationStatus(warning_id=warning_id, villages=[], shelters=[])
    villages: dict[str, VillageEvac] = {}
    assigned: dict[str, int] = {}
    for h in homes:
        checked = by_home.get(h["household_id"], 0)
        _add(out, h, 0)
        _add(villages.setdefault(h["village_code"], VillageEvac(code=h["village_code"])), h, checked)
        if h["shelter_id"]:
            assigned[h["shelter_id"]] = assigned.get(h["shelter_id"], 0) + int(h["persons"])
    out.checked_in = sum(at_shelter.values())  # everyone checked in, threatened household or not
    out.villages = sorted(villages.values(), key=lambda v: v.code)
    for s in await store.shelters():
        n, mine = at_shelter.get(s.shelter_id, 0), assigned.get(s.shelter_id, 0)
        if n or mine:
            over = n > s.capacity or (n == 0 and mine > s.capacity)
            out.shelters.append(
                ShelterCount(
                    shelter_id=s.shelter_id,
                    name=s.name,
                    cell_code=s.cell_code,
                    capacity=s.capacity,
                    assigned_persons=mine,
                    checked_in=n,
                    over_capacity=over,
                )
            )
    return out
