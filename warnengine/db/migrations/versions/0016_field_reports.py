"""field_reports, field_report_photos: one inbox of field reports (灾情 and requests for help), each to be
taken by a duty person in time (issue 17)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_reports",
        sa.Column("report_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("warning_id", sa.String(32)),
        sa.Column("village_code", sa.String(16)),
        sa.Column("household_id", sa.String(32)),
        sa.Column("reporter", sa.String(64)),
        sa.Column("lon", sa.Float()),
        sa.Column("lat", sa.Float()),
        sa.Column("taken_by", sa.String(64)),
        sa.Column("taken_at", sa.Float()),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", sa.Float()),
        sa.Column("outcome_note", sa.Text()),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("called_at", sa.Float()),
    )
    op.create_index("ix_field_reports_state_created", "field_reports", ["state", "created_at"])
    op.create_table(
        "field_report_photos",
        sa.Column("report_id", sa.String(32), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.Column("added_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("field_report_photos")
    op.drop_index("ix_field_reports_state_created", table_name="field_reports")
    op.drop_table("field_reports")
