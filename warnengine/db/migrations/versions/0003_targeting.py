"""targeting: monitoring points, drill opt-in, per-household reach, person deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "points",
        sa.Column("point_id", sa.String(length=32), primary_key=True),
        sa.Column("cell_code", sa.String(length=16), nullable=False, index=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lead_person_id", sa.String(length=32)),
    )
    op.create_table(
        "point_households",
        sa.Column("point_id", sa.String(length=32), primary_key=True),
        sa.Column("household_id", sa.String(length=32), primary_key=True),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drill_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drill_opt_in", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.String(length=32)))
        batch_op.add_column(sa.Column("household_id", sa.String(length=32)))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "warning_households",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("household_id", sa.String(length=32), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("village_code", sa.String(length=16), nullable=False),
        sa.Column("cell_code", sa.String(length=16), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        # targeted | sent | delivered | reached | unreachable
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reached_by", sa.String(length=32)),  # sms | wechat | app | loudspeaker | visit
        sa.Column("evidence", sa.Text()),  # delivery id / visit task id that proved it
        sa.Column("reached_at", sa.Float()),
        sa.Column("reason", sa.Text()),  # why unreachable
        sa.Column("targeted_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Index("ix_warning_households_village", "warning_id", "village_code", "state"),
    )


def downgrade() -> None:
    op.drop_table("warning_households")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name in ("step", "household_id", "person_id"):
            batch_op.drop_column(name)
    for table in ("devices", "people"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("drill_opt_in")
    op.drop_table("point_households")
    op.drop_table("points")
