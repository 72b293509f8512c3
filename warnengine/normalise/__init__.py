"""Feed normaliser: raw feed bytes (CAP 1.2, CAP 1.1, the national 国突 dialect, JSON) → Warning.

`parse_feed` raises only `FeedError`, whose `reason` is a stable code for the dead-letter topic.
"""

from warnengine.normalise.errors import FeedError
from warnengine.normalise.parse import parse_feed

__all__ = ["FeedError", "parse_feed"]
