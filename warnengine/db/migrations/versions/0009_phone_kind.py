"""people.phone_kind: mobile | fixed_line, so SMS never goes to a landline

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_kind", sa.String(length=16), nullable=True))
    # Numbers imported before kinds were known: mainland numbers tell by their shape (+86 1… is a mobile,
    # +86 and an area code a landline); others stay NULL, taken as mobiles as before.
    people = sa.table("people", sa.column("phone", sa.String), sa.column("phone_kind", sa.String))
    op.execute(people.update().where(people.c.phone.like("+861%")).values(phone_kind="mobile"))
    op.execute(
        people.update()
        .where(people.c.phone.like("+86%"), people.c.phone_kind.is_(None))
        .values(phone_kind="fixed_line")
    )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("phone_kind")
