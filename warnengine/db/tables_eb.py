"""The county emergency-broadcast platform's table, in the one `metadata` of tables.py (which is full).
warnengine/db/__init__.py imports this module, so migrations and the schema check always see it."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text, UniqueConstraint

from warnengine.db.tables import metadata

# The EBM (emergency-broadcast message) id of each warning version sent through the county's EB platform,
# and the areas it covered so far (migration 0015): its reports (EBMStateResponse) name only the EBM.
eb_messages = Table(
    "eb_messages",
    metadata,
    Column("ebm_id", String(64), primary_key=True),
    Column("warning_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("areas", Text, nullable=False),  # comma-separated 12-digit village codes
    Column("created_at", Float, nullable=False),
    UniqueConstraint("warning_id", "version", name="uq_eb_messages_version"),
)
