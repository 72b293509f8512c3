"""devices.responsible_id (专人), loudspeaker_fallbacks, device_pages, link_tests: never trust a silent
loudspeaker; scheduled link tests and canaries (issue 18)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("responsible_id", sa.String(64), nullable=True))
    op.create_table(
        "loudspeaker_fallbacks",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("village_code", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("responsible", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_table(
        "device_pages",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("offline_since", sa.Float(), primary_key=True),
        sa.Column("person_id", sa.String(64), nullable=True),
        sa.Column("result", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_table(
        "link_tests",
        sa.Column("link", sa.String(96), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("last_tried", sa.Float(), nullable=False),
        sa.Column("last_success", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("link_tests")
    op.drop_table("device_pages")
    op.drop_table("loudspeaker_fallbacks")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("responsible_id")
