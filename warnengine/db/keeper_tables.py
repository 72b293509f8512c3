"""Tables of issue 17's people in the field: the vulnerable register (包保) and which person of the directory
an API account is (a shelter keeper checks in only at their shelter). On tables.py's metadata (kept apart so
neither file grows past 400 lines). Changes here need a migration in db/migrations/versions."""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

from warnengine.db.tables import metadata

vulnerable_households = Table(
    "vulnerable_households",
    metadata,
    Column("household_id", String(32), primary_key=True),
    Column("category", String(16), nullable=False),  # living_alone | elderly | disabled | bedridden | other
    Column("mobility", String(16), nullable=False),  # independent | assisted | wheelchair | stretcher
    Column("helper_person_id", String(32), index=True),  # 包保责任人: people.person_id
    Column("note", Text, nullable=False, server_default=""),
)

account_people = Table(
    "account_people",
    metadata,
    Column("username", String(64), primary_key=True),  # users.username
    Column("person_id", String(32), nullable=False, index=True),  # people.person_id
)
