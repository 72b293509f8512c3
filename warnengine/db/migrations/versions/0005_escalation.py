"""escalation: ladder steps run, visit tasks (入户) with per-household outcomes, staff calls (叫应)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.Float()))  # the escalation ladder's zero
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text()))  # a visit list or a 叫应 call, not the warning
    op.create_table(
        "escalation_steps",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("step", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
    )
    op.create_table(
        "visit_tasks",
        sa.Column("task_id", sa.String(length=32), primary_key=True),
        sa.Column("warning_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("village_code", sa.String(length=16), nullable=False),
        sa.Column("group_code", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=32)),  # person id; NULL: nobody to send (reported)
        sa.Column("level", sa.Integer(), nullable=False),  # 0 group leader, 1 village grid head, 2 dispatcher
        sa.Column("state", sa.String(length=16), nullable=False),  # open | accepted | done | cancelled
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("assigned_at", sa.Float(), nullable=False),
        sa.Column("accepted_at", sa.Float()),
        sa.Column("done_at", sa.Float()),
        sa.Column("reason", sa.Text()),
        sa.Index("ix_visit_tasks_warning", "warning_id", "state"),
    )
    op.create_table(
        "visit_households",
        sa.Column("task_id", sa.String(length=32), primary_key=True),
        sa.Column("household_id", sa.String(length=32), primary_key=True),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        # reached | nobody_home | refused | moved | needs_help; NULL until the visitor reports
        sa.Column("outcome", sa.String(length=16)),
        sa.Column("at", sa.Float()),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "staff_calls",
        sa.Column("warning_id", sa.String(length=32), primary_key=True),
        sa.Column("person_id", sa.String(length=32), primary_key=True),
        sa.Column("superior_id", sa.String(length=32)),
        sa.Column("called_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ("staff_calls", "visit_households", "visit_tasks", "escalation_steps"):
        op.drop_table(table)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("text")
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
