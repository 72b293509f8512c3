"""Tables of the loudspeaker fallback and the link tests (migration 0014), beside tables.py (which is full).

They join `tables.metadata`, so the schema-drift test and the migrations see them like any other."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text

from warnengine.db.tables import metadata

# A village whose terminals were all offline, or none played within the policy's window: its visits were
# created at once and its terminals' 专人 叫应'd. One row per warning version and village: done once.
loudspeaker_fallbacks = Table(
    "loudspeaker_fallbacks",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("village_code", String(16), primary_key=True),
    Column("reason", String(16), nullable=False),  # offline | not_played
    Column("households", Integer, nullable=False),  # put on visit tasks
    Column("responsible", Text, nullable=False),  # the 专人 叫应'd, comma-separated ('' none on record)
    Column("at", Float, nullable=False),
)

# A terminal offline longer than the setting pages its 专人, once per offline spell (its offline_since).
device_pages = Table(
    "device_pages",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("offline_since", Float, primary_key=True),
    Column("person_id", String(64)),  # NULL: nobody responsible on record (counted, logged)
    Column("result", String(64), nullable=False),  # sent | failed: <reason> | no_person | no_address
    Column("at", Float, nullable=False),
)

# One row per link (terminal:<device>, provider:<name>): the last test, its outcome, the last success.
link_tests = Table(
    "link_tests",
    metadata,
    Column("link", String(96), primary_key=True),
    Column("kind", String(16), nullable=False),  # terminal | provider
    Column("last_tried", Float, nullable=False),
    Column("last_success", Float),  # NULL: never answered
    Column("last_error", Text),  # the reason or the provider's code; NULL after a success
    Column("failures", Integer, nullable=False, server_default="0"),  # in a row
)
