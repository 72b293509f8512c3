"""Alembic environment. The caller hands in a live connection (see db/engine.py); offline mode is not used."""

from __future__ import annotations

from alembic import context

from warnengine.db import tables_links  # noqa: F401  (its tables join `metadata`)
from warnengine.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic revision --autogenerate` from the command line
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite://"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
