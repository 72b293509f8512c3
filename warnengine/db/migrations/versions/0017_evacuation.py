"""shelters, zones, zone_households, evacuation_households, shelter_checkins: evacuation (转移) to
disaster shelters (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shelters",
        sa.Column("shelter_id", sa.String(32), primary_key=True),
        sa.Column("cell_code", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("keeper_person_id", sa.String(32)),
    )
    op.create_index("ix_shelters_cell_code", "shelters", ["cell_code"])
    op.create_table(
        "zones",
        sa.Column("zone_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
    )
    op.create_table(
        "zone_households",
        sa.Column("zone_id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(32), primary_key=True),
    )
    op.create_table(
        "evacuation_households",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(32), primary_key=True),
        sa.Column("village_code", sa.String(16), nullable=False),
        sa.Column("cell_code", sa.String(16), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("shelter_id", sa.String(32)),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("ordered_at", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("destination", sa.String(16)),
        sa.Column("evacuated_persons", sa.Integer(), server_default="0", nullable=False),
        sa.Column("outcome_at", sa.Float()),
        sa.Column("outcome_by", sa.String(64)),
        sa.Column("note", sa.Text()),
        sa.Column("followed_at", sa.Float()),
    )
    op.create_table(
        "shelter_checkins",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("person_key", sa.String(48), primary_key=True),
        sa.Column("shelter_id", sa.String(32), nullable=False),
        sa.Column("household_id", sa.String(32)),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("shelter_checkins")
    op.drop_table("evacuation_households")
    op.drop_table("zone_households")
    op.drop_table("zones")
    op.drop_index("ix_shelters_cell_code", table_name="shelters")
    op.drop_table("shelters")
