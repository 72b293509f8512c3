"""deliveries.recipient up to 512 characters: an FCM registration token (~160) or a JPush id did not fit
in 64 on PostgreSQL (SQLite never enforced the length)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "recipient", existing_type=sa.String(length=64), type_=sa.String(length=512), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "recipient", existing_type=sa.String(length=512), type_=sa.String(length=64), nullable=False
        )
