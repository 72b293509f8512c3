"""wechat_groups (a village's or group's WeCom robot key) and push_tokens (a person's second app-push token,
FCM, for JPush ⇄ FCM failover)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_groups",
        sa.Column("cell_code", sa.String(length=16), primary_key=True),
        sa.Column("robot_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
    )
    op.create_table(
        "push_tokens",
        sa.Column("person_id", sa.String(length=32), primary_key=True),
        sa.Column("fcm_token", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("push_tokens")
    op.drop_table("wechat_groups")
