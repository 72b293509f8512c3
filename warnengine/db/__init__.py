from warnengine.db import (
    persons_tables,  # noqa: F401  (registers person_accounts)
    tables_eb,  # noqa: F401  (registers eb_messages in tables.metadata)
)
from warnengine.db.engine import connect, migrate

__all__ = ["connect", "migrate"]
