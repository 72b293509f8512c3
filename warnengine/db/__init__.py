from warnengine.db import tables_addresses, tables_eb  # noqa: F401  (their tables join tables.metadata)
from warnengine.db.engine import connect, migrate

__all__ = ["connect", "migrate"]
