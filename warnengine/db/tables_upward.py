"""The upward reports table (上报): warnengine/db/tables.py makes it on the schema's metadata."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

# Upward reports (上报, migration 0018): one progress report per warning × cell × due minute, and one closure
# report per warning × cell, recorded once planned so a restart never sends one twice.


def upward_table(metadata: MetaData) -> Table:
    return Table(
        "upward_reports",
        metadata,
        Column("warning_id", String(32), primary_key=True),
        Column("cell_code", String(16), primary_key=True),  # the township or the county reported to
        Column("kind", String(8), primary_key=True),  # progress | closure
        Column("due_min", Integer, primary_key=True),  # minutes after release; 0 for the closure report
        Column("version", Integer, nullable=False),  # the version its deliveries belong to
        Column("persons", Integer, nullable=False),  # how many on-duty persons it went to
        Column("text", Text, nullable=False),
        Column("sent_at", Float, nullable=False),
    )
