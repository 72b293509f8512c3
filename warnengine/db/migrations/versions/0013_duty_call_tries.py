"""duty_calls.tries, last_called_at: phone 叫应 calls the same person on duty several times (three calls in
five minutes) before the next post

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("duty_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tries", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_called_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("duty_calls", schema=None) as batch_op:
        batch_op.drop_column("last_called_at")
        batch_op.drop_column("tries")
