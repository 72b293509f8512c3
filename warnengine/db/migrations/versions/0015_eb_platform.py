"""devices.provider (mqtt | eb) and eb_messages: terminals reached through the county's emergency-broadcast
platform, and the EBM id of each warning version sent to it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        # mqtt | eb (devices.csv provider); existing terminals keep MQTT
        batch_op.add_column(sa.Column("provider", sa.String(length=8), nullable=False, server_default="mqtt"))
    op.create_table(
        "eb_messages",
        sa.Column("ebm_id", sa.String(length=64), primary_key=True),
        sa.Column("warning_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("areas", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("warning_id", "version", name="uq_eb_messages_version"),
    )


def downgrade() -> None:
    op.drop_table("eb_messages")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("provider")
