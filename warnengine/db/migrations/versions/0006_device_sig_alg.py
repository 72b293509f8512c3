"""device signature algorithm: a terminal's commands are signed with Ed25519 or SM2/SM3

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        # ed25519 | sm2-sm3 (devices.csv sig_alg); existing terminals keep Ed25519
        batch_op.add_column(
            sa.Column("sig_alg", sa.String(length=16), nullable=False, server_default="ed25519")
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("sig_alg")
