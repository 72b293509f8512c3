"""upward_reports: each progress report (10, 30, 60 min, then hourly) and closure report sent to a
township's or the county's duty, once per warning × cell × due minute

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upward_reports",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("cell_code", sa.String(length=16), primary_key=True),
        sa.Column("kind", sa.String(length=8), primary_key=True),
        sa.Column("due_min", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upward_reports")
