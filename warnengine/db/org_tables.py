"""Tables of organisations (单位, issue 17): the directory's orgs, and per warning each org planned with
its state and the deliveries sent for it. On tables.py's metadata (kept apart so neither file grows past
400 lines). Changes here need a migration in db/migrations/versions (0022)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from warnengine.db.tables import metadata

orgs = Table(
    "orgs",
    metadata,
    Column("org_id", String(32), primary_key=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("responsible", Text, nullable=False, server_default=""),  # person ids, ";"-separated
)

warning_orgs = Table(
    "warning_orgs",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("org_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),  # the version that first planned it
    Column("village_code", String(16), nullable=False),
    Column("cell_code", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("responsible", Text, nullable=False, server_default=""),  # as planned, ";"-separated
    Column("state", String(16), nullable=False),  # targeted | reached
    Column("planned_at", Float, nullable=False),
    Column("reached_at", Float),
    Column("reached_by", String(16)),  # the channel of the acknowledgement
    Column("evidence", String(32)),  # the acknowledged delivery
    Column("note", Text),  # what the responsible person wrote after 收到 ("830名学生留在室内")
    Column("last_step", Integer, nullable=False, server_default="0"),  # the ladder step that last ran on it
    Column("escalated_to", String(32)),  # who the ladder's call / escalate step handed it to
)

org_deliveries = Table(
    "org_deliveries",
    metadata,
    Column("delivery_id", String(32), primary_key=True),
    Column("warning_id", String(32), nullable=False),
    Column("org_id", String(32), nullable=False),
    Index("ix_org_deliveries_org", "warning_id", "org_id"),
)
