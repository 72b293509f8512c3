"""Tables of evacuation (转移, issue 17): shelters from the directory, each warning's threatened households
with their shelter and what the visitor recorded, and shelter check-ins. On tables.py's metadata (kept apart
so neither file grows past 400 lines). Changes here need a migration in db/migrations/versions."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, String, Table, Text

from warnengine.db.tables import metadata

shelters = Table(
    "shelters",
    metadata,
    Column("shelter_id", String(32), primary_key=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("capacity", Integer, nullable=False),  # persons
    Column("keeper_person_id", String(32)),
)

zones = Table(
    "zones",
    metadata,
    Column("zone_id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("geometry", Text, nullable=False),  # GeoJSON, WGS84
)

zone_households = Table(
    "zone_households",
    metadata,
    Column("zone_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
)

evacuation_households = Table(
    "evacuation_households",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
    Column("village_code", String(16), nullable=False),
    Column("cell_code", String(16), nullable=False),  # the household's group
    Column("vulnerable", Boolean, nullable=False),
    Column("shelter_id", String(32)),  # NULL: the directory has no shelter
    Column("persons", Integer, nullable=False),  # residents (households.members)
    Column("ordered_at", Float, nullable=False),
    Column("outcome", String(16)),  # evacuated | refused | needs_help | away; NULL: not yet recorded
    Column("destination", String(16)),  # evacuated: shelter | relatives
    Column("evacuated_persons", Integer, nullable=False, server_default="0"),
    Column("outcome_at", Float),
    Column("outcome_by", String(64)),
    Column("note", Text),
    Column("followed_at", Float),  # refused: when the village grid head's second visit was made
)

shelter_checkins = Table(
    "shelter_checkins",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("person_key", String(48), primary_key=True),  # a person id, or "household:<id>" for a headcount
    Column("shelter_id", String(32), nullable=False),
    Column("household_id", String(32)),
    Column("persons", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("by", String(64)),
)
