from warnengine.db import (  # noqa: F401  (their tables join tables.metadata)
    persons_tables,
    tables_addresses,
    tables_eb,
)
from warnengine.db.engine import connect, migrate

__all__ = ["connect", "migrate"]
