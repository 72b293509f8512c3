"""duty roster (值班表) and the duty ladder's 叫应 calls

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty_shifts",
        sa.Column("cell_code", sa.String(length=16), primary_key=True),
        sa.Column("role", sa.String(length=16), primary_key=True),
        sa.Column("post", sa.String(length=8), primary_key=True),
        sa.Column("starts_at", sa.Float(), primary_key=True),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_duty_shifts_ends", "duty_shifts", ["ends_at"])
    op.create_table(
        "duty_calls",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("person_id", sa.String(length=32), primary_key=True),
        sa.Column("target_id", sa.String(length=32), primary_key=True),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("cell_code", sa.String(length=16), nullable=False),
        sa.Column("post", sa.String(length=8)),
        sa.Column("called_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("duty_calls")
    op.drop_index("ix_duty_shifts_ends", table_name="duty_shifts")
    op.drop_table("duty_shifts")
