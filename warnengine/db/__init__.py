from warnengine.db.engine import connect, migrate

__all__ = ["connect", "migrate"]
