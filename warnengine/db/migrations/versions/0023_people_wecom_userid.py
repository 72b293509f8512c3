"""people.wecom_userid: a staff member's WeCom (企业微信) userid, apart from their WeChat OA openid

Before, a staff member's WeCom userid was kept in wechat_openid, so one person could not have both. Rows
whose role is not resident move their wechat_openid here when it does not look like an OA openid (which
is 28 characters starting with "o").

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("wecom_userid", sa.String(length=64)))
    op.execute(
        "UPDATE people SET wecom_userid = wechat_openid, wechat_openid = NULL"
        " WHERE role != 'resident' AND wechat_openid IS NOT NULL"
        " AND NOT (length(wechat_openid) = 28 AND substr(wechat_openid, 1, 1) = 'o')"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE people SET wechat_openid = wecom_userid"
        " WHERE wechat_openid IS NULL AND wecom_userid IS NOT NULL"
    )
    with op.batch_alter_table("people") as batch:
        batch.drop_column("wecom_userid")
