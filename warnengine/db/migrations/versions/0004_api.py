"""dispatcher API: users, API tokens, console sessions, warning drafts and their approvals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), primary_key=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False, index=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float()),
        sa.Column("revoked_at", sa.Float()),
    )
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(length=64), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False, index=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("remote", sa.Text()),
    )
    op.create_table(
        "warning_drafts",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("hazard", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("released_refs", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("released_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_by", sa.String(length=64)),
        sa.Column("approved_by", sa.String(length=64)),
        sa.Column("released_by", sa.String(length=64)),
        sa.Column("fast_path", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("released_at", sa.Float()),
        sa.Index("ix_warning_drafts_state", "state", "updated_at"),
    )
    op.create_table(
        "warning_approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("warning_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ("warning_approvals", "warning_drafts", "sessions", "api_tokens", "users"):
        op.drop_table(table)
