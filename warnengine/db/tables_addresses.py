"""Addresses of the directory kept apart from people (issue 18, migration 0021): each village's and
group's WeChat group robot key (a secret: never logged, never returned by the API in full) and a
person's second app-push token (FCM, when app_token is their JPush registration id). On tables.py's
metadata (kept apart so that file stays under 400 lines)."""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

from warnengine.db.tables import metadata

wechat_groups = Table(
    "wechat_groups",
    metadata,
    Column("cell_code", String(16), primary_key=True),  # a village or a group (村民小组)
    Column("robot_key", Text, nullable=False),  # the WeCom group robot's webhook key
    Column("name", Text),  # the group's name as members see it, for the console
)

push_tokens = Table(
    "push_tokens",
    metadata,
    Column("person_id", String(32), primary_key=True),
    Column("fcm_token", Text, nullable=False),  # people.csv's fcm_token: app push fails over to it
)
