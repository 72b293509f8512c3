"""Tables of the field-report inbox (issue 17), on the same metadata as tables.py (kept apart so neither
file grows past 400 lines). Changes here need a migration in db/migrations/versions."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from warnengine.db.tables import metadata

field_reports = Table(
    "field_reports",
    metadata,
    Column("report_id", String(32), primary_key=True),  # fr- + hash of what opened it: idempotent
    Column("source", String(16), nullable=False),  # visit | whereabouts | reply | staff
    Column("kind", String(24), nullable=False),
    Column("state", String(16), nullable=False),  # open | taken | handled | forwarded
    Column("created_at", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("warning_id", String(32)),
    Column("village_code", String(16)),
    Column("household_id", String(32)),
    Column("reporter", String(64)),
    Column("lon", Float),
    Column("lat", Float),
    Column("taken_by", String(64)),
    Column("taken_at", Float),
    Column("closed_by", String(64)),
    Column("closed_at", Float),
    Column("outcome_note", Text),
    Column("calls", Integer, nullable=False, server_default="0"),  # 叫应 made for want of a taker
    Column("called_at", Float),  # the latest of those
    Index("ix_field_reports_state_created", "state", "created_at"),
)

field_report_photos = Table(
    "field_report_photos",
    metadata,
    Column("report_id", String(32), primary_key=True),
    Column("sha256", String(64), primary_key=True),  # the file: <data_dir>/field_reports/<sha256>
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("added_by", String(64)),
)
