"""orgs, warning_orgs, org_deliveries: organisations (schools, enterprises, …) planned, acknowledged and
escalated like households (issue 17)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orgs",
        sa.Column("org_id", sa.String(32), primary_key=True),
        sa.Column("cell_code", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("responsible", sa.Text(), server_default="", nullable=False),
    )
    op.create_index("ix_orgs_cell_code", "orgs", ["cell_code"])
    op.create_table(
        "warning_orgs",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("village_code", sa.String(16), nullable=False),
        sa.Column("cell_code", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("responsible", sa.Text(), server_default="", nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("planned_at", sa.Float(), nullable=False),
        sa.Column("reached_at", sa.Float()),
        sa.Column("reached_by", sa.String(16)),
        sa.Column("evidence", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.Column("last_step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_to", sa.String(32)),
    )
    op.create_table(
        "org_deliveries",
        sa.Column("delivery_id", sa.String(32), primary_key=True),
        sa.Column("warning_id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_org_deliveries_org", "org_deliveries", ["warning_id", "org_id"])


def downgrade() -> None:
    op.drop_index("ix_org_deliveries_org", table_name="org_deliveries")
    op.drop_table("org_deliveries")
    op.drop_table("warning_orgs")
    op.drop_index("ix_orgs_cell_code", table_name="orgs")
    op.drop_table("orgs")
