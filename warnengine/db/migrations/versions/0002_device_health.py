"""device health: online state, firmware, volume, what plays, offline detection

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("firmware", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("volume", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("playing", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("offline_since", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("offline_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        for name in (
            "offline_reason",
            "offline_since",
            "last_reason",
            "playing",
            "volume",
            "firmware",
            "online",
        ):
            batch_op.drop_column(name)
