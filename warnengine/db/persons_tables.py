"""Per-warning person accounting (到人, issue 17): who of each targeted household is accounted for, and how.
On tables.py's metadata (kept apart so neither file grows past 400 lines). Changes here need a migration.

One row per named person (`person_key` = their person id, `persons` = 1: they acknowledged, or a visitor
named them) and one per count (`person_key` = "count:<how>", `persons` = how many: a visitor's headcount,
the persons evacuated, a household away). A household's accounted persons are
min(members, max(named persons, largest count)): a headcount is the visitor's count of the household in
all, so it includes anyone also named, and nothing is counted twice (db/store/persons.py)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from warnengine.db.tables import metadata

person_accounts = Table(
    "person_accounts",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
    Column("person_key", String(48), primary_key=True),  # a person id, or "count:<how>"
    Column("persons", Integer, nullable=False),
    Column("how", String(16), nullable=False),  # ack | visit | headcount | evacuated | away
    Column("at", Float, nullable=False),
    Column("by", String(64)),  # the delivery, visit task or evacuation record that is the evidence
    Index("ix_person_accounts_warning", "warning_id", "household_id"),
)
