"""SQLAlchemy Core tables. Changes here need a migration in db/migrations/versions."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from warnengine.db.tables_upward import upward_table

metadata = MetaData()

cells = Table(
    "cells",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("parent", String(16), index=True),
    Column("name", Text, nullable=False),
    Column("geometry", Text, nullable=False),  # GeoJSON
)

households = Table(
    "households",
    metadata,
    Column("household_id", String(32), primary_key=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("members", Integer, nullable=False),
    Column("vulnerable", Boolean, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("person_id", String(32), primary_key=True),
    Column("household_id", String(32), index=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("phone", String(20)),  # E.164
    Column("phone_kind", String(16)),  # mobile | fixed_line (no SMS); NULL: before 0007, taken as mobile
    Column("wechat_openid", String(64)),
    Column("app_token", Text),
    Column("drill_opt_in", Boolean, nullable=False, server_default=false()),  # drills reach only opt-ins
    Column("wecom_userid", String(64)),  # migration 0023: staff's WeCom userid (企业微信账号)
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("last_seen", Float),  # engine clock: the last status or ack heard from the terminal
    Column("last_result", String(16)),  # the last final ack: played | failed | rejected
    # Health (migration 0002). online is NULL until the terminal is first heard from.
    Column("online", Boolean),
    Column("firmware", String(64)),
    Column("volume", Integer),
    Column("playing", String(64)),  # command id playing at the last status
    Column("last_reason", Text),  # reason given with last_result
    Column("offline_since", Float),
    Column("offline_reason", String(16)),  # will (Last Will) | goodbye (said so itself) | silent (sweep)
    Column("drill_opt_in", Boolean, nullable=False, server_default=true()),  # migration 0003
    # How the terminal's commands are signed: ed25519 | sm2-sm3 (migration 0006).
    Column("sig_alg", String(16), nullable=False, server_default="ed25519"),
    Column("responsible_id", String(64)),  # 专人: people.person_id (migration 0014; tables_links.py)
    # Who carries its commands: mqtt | eb, the county's emergency-broadcast platform (migration 0015).
    Column("provider", String(8), nullable=False, server_default="mqtt"),
)

# Geohazard monitoring points (地质灾害隐患点) and the households they threaten (migration 0003).
points = Table(
    "points",
    metadata,
    Column("point_id", String(32), primary_key=True),
    Column("cell_code", String(16), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("lead_person_id", String(32)),
)

point_households = Table(
    "point_households",
    metadata,
    Column("point_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
)

feed_messages = Table(
    "feed_messages",
    metadata,
    Column("digest", String(64), primary_key=True),  # sha256 of the raw bytes: redelivery is a no-op
    Column("source", String(32), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("verdict", String(32), nullable=False),  # accepted | duplicate | dead_letter reason
    Column("warning_id", String(32)),
    Column("version", Integer),
)

warnings = Table(
    "warnings",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sender", Text, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("sent", Float, nullable=False),
    Column("msg_type", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("hazard", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("event", Text, nullable=False),
    Column("expires", Float),
    Column("body", Text, nullable=False),  # the normalised warning as JSON
    Column("state", String(16), nullable=False),  # accepted | resolved | cancelled
    Column("villages", Integer),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),  # migration 0005: the escalation ladder counts from here
    Index("ix_warnings_state", "state", "updated_at"),
)

warning_villages = Table(
    "warning_villages",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("village_code", String(16), primary_key=True),
    Column("state", String(16), nullable=False),  # pending | dispatched
    Column("updated_at", Float, nullable=False),
    Index("ix_warning_villages_state", "state", "updated_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(32), primary_key=True),
    Column("warning_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("village_code", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(512), nullable=False),  # FCM tokens are ~160 characters
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_attempt_at", Float),
    Column("sent_at", Float),
    Column("acked_at", Float),
    Column("expires_at", Float, nullable=False),
    Column("reason", Text),
    # People channels (migration 0003): whom it is for, and the escalation step that sent it.
    Column("person_id", String(32)),
    Column("household_id", String(32)),
    Column("step", Integer, nullable=False, server_default="0"),
    Column("text", Text),  # migration 0005: the message when it is not the warning (visit list, 叫应 call)
    # Migration 0007: sends of a person's message after an attempt whose outcome was never recorded (the
    # worker stopped mid-send): the person may have had the message that many extra times.
    Column("possible_duplicates", Integer, nullable=False, server_default="0"),
    # Migration 0010: the provider's reference for the accepted send (Tencent SerialNo, WeChat MsgID,
    # Twilio SID), by which a receipt that names only that reference finds its delivery.
    Column("provider_ref", String(64)),
    Index("ix_deliveries_warning", "warning_id", "village_code"),
    Index("ix_deliveries_provider_ref", "provider_ref"),
    Index("ix_deliveries_state", "state", "last_attempt_at"),
)

# Per-household reach (到户, migration 0003): reached when every member is accounted for (persons_tables).
warning_households = Table(
    "warning_households",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("village_code", String(16), nullable=False),
    Column("cell_code", String(16), nullable=False),
    Column("vulnerable", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # targeted | sent | delivered | reached | unreachable
    Column("reached_by", String(32)),
    Column("evidence", Text),
    Column("reached_at", Float),
    Column("reason", Text),
    Column("targeted_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_warning_households_village", "warning_id", "village_code", "state"),
)

# Escalation (migration 0005): which ladder steps ran, door-to-door visit tasks (入户) and their
# per-household outcomes, and staff whose superior was called because they did not answer (叫应).
escalation_steps = Table(
    "escalation_steps",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("action", String(16), nullable=False),
    Column("done_at", Float, nullable=False),
    Column("households", Integer, nullable=False),
)

visit_tasks = Table(
    "visit_tasks",
    metadata,
    Column("task_id", String(32), primary_key=True),
    Column("warning_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("village_code", String(16), nullable=False),
    Column("group_code", String(16), nullable=False),
    Column("assignee", String(32)),
    Column("level", Integer, nullable=False),  # 0 group leader, 1 village grid head, 2 dispatcher
    Column("state", String(16), nullable=False),  # open | accepted | done | cancelled
    Column("created_at", Float, nullable=False),
    Column("assigned_at", Float, nullable=False),
    Column("accepted_at", Float),
    Column("done_at", Float),
    Column("reason", Text),
    Index("ix_visit_tasks_warning", "warning_id", "state"),
)

visit_households = Table(
    "visit_households",
    metadata,
    Column("task_id", String(32), primary_key=True),
    Column("household_id", String(32), primary_key=True),
    Column("vulnerable", Boolean, nullable=False),
    Column("outcome", String(16)),  # reached | nobody_home | refused | moved | needs_help
    Column("at", Float),
    Column("note", Text),
)

staff_calls = Table(
    "staff_calls",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("person_id", String(32), primary_key=True),
    Column("superior_id", String(32)),
    Column("called_at", Float, nullable=False),
)

acks = Table(
    "acks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("at", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("verdict", String(16), nullable=False),  # applied | stale | unknown_delivery
    UniqueConstraint("delivery_id", "state", name="uq_acks_delivery_state"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stage", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("source", String(64)),
    Column("key", Text),
    Column("payload", Text, nullable=False),  # UTF-8 text, or base64 prefixed "b64:"
    Column("created_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", Text),
    Column("detail", Text),
)

# -- Dispatcher API and console (warnengine/api, migration 0004) -------------------------------------------

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string
    Column("role", String(16), nullable=False),  # dispatcher | approver | admin | grid_staff | app
    Column("display_name", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", Float, nullable=False),
    # A one-time password (init, `user add`, an admin's reset): console sessions may only change it (0007).
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the bearer token; the token is shown once
    Column("username", String(64), nullable=False, index=True),
    Column("label", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("username", String(64), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("remote", Text),
)

# A dispatcher's warning from draft to release; each release puts one feed message on the manual topic.
warning_drafts = Table(
    "warning_drafts",
    metadata,
    Column("warning_id", String(32), primary_key=True),  # the chain id the released warning will have
    Column("sender", Text, nullable=False),
    Column("identifier", Text, nullable=False),
    # draft | submitted | approved | rejected | released | cancelled
    Column("state", String(16), nullable=False),
    Column("revision", Integer, nullable=False),  # bumped by every edit: approvals name the revision
    Column("status", String(8), nullable=False),  # CAP status: Actual | Exercise (drill)
    Column("hazard", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("content", Text, nullable=False),  # the composed warning as JSON (api/drafts.py Compose)
    Column("released_refs", Text, nullable=False, server_default="[]"),  # "sender,identifier,sent" sent
    Column("released_version", Integer, nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=False),
    Column("submitted_by", String(64)),
    Column("approved_by", String(64)),
    Column("released_by", String(64)),
    Column("fast_path", Boolean, nullable=False, server_default=false()),
    Column("reason", Text),  # the last rejection's reason
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("released_at", Float),
    Index("ix_warning_drafts_state", "state", "updated_at"),
)

warning_approvals = Table(
    "warning_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("warning_id", String(32), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("decision", String(16), nullable=False),  # approved | rejected | fast_path
    Column("reason", Text),
    Column("at", Float, nullable=False),
)

# The duty roster (值班表, migration 0010): who holds which post of a cell, [starts_at, ends_at) engine
# time; and every 叫应 of the duty ladder: whom a silent person's call went to, in order.
duty_shifts = Table(
    "duty_shifts",
    metadata,
    Column("cell_code", String(16), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("post", String(8), primary_key=True),  # A | B | deputy
    Column("starts_at", Float, primary_key=True),
    Column("ends_at", Float, nullable=False),
    Column("person_id", String(32), nullable=False),
    Index("ix_duty_shifts_ends", "ends_at"),
)

duty_calls = Table(
    "duty_calls",
    metadata,
    Column("warning_id", String(32), primary_key=True),
    Column("person_id", String(32), primary_key=True),  # the silent person
    Column("target_id", String(32), primary_key=True),  # who was called about them
    Column("rung", Integer, nullable=False),  # 0 the first call, 1 the next…
    Column("cell_code", String(16), nullable=False),  # the target's cell
    Column("post", String(8)),  # the post the target held; NULL: nobody on duty, from the directory
    Column("called_at", Float, nullable=False),
    Column("tries", Integer, nullable=False, server_default="1"),  # phone 叫应: calls to this target
    Column("last_called_at", Float),  # the latest of those calls; NULL: only the first
)

# Upward reports (上报, migration 0018), kept apart so this file stays under 400 lines.
upward_reports = upward_table(metadata)
