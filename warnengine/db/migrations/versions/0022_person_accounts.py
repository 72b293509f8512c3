"""person_accounts: per warning, who of each household is accounted for (到人) and how — an ack, a
visitor naming them or counting heads, evacuated, away (issue 17)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_accounts",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(32), primary_key=True),
        sa.Column("person_key", sa.String(48), primary_key=True),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("by", sa.String(64)),
    )
    op.create_index("ix_person_accounts_warning", "person_accounts", ["warning_id", "household_id"])


def downgrade() -> None:
    op.drop_index("ix_person_accounts_warning", table_name="person_accounts")
    op.drop_table("person_accounts")
