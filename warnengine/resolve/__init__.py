"""Resolve: from a warning's area to the villages (and later households, people, devices) inside it."""

from warnengine.resolve.index import VillageIndex, code_prefix

__all__ = ["VillageIndex", "code_prefix"]
