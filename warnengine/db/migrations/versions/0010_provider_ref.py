"""deliveries.provider_ref: the provider's message reference (Tencent SerialNo, WeChat MsgID…), so a
receipt that carries only that reference (a Tencent status report's `sid`, a WeChat TEMPLATESENDJOBFINISH's
MsgID) maps back to its delivery

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_deliveries_provider_ref", ["provider_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_provider_ref")
        batch_op.drop_column("provider_ref")
