"""vulnerable_households, account_people: the vulnerable register with its helpers (包保) and the directory
person an API account is (issue 17)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulnerable_households",
        sa.Column("household_id", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("mobility", sa.String(16), nullable=False),
        sa.Column("helper_person_id", sa.String(32)),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_vulnerable_households_helper_person_id", "vulnerable_households", ["helper_person_id"]
    )
    op.create_table(
        "account_people",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("person_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_account_people_person_id", "account_people", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_account_people_person_id", "account_people")
    op.drop_table("account_people")
    op.drop_index("ix_vulnerable_households_helper_person_id", "vulnerable_households")
    op.drop_table("vulnerable_households")
