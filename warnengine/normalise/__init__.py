"""Feed normaliser: raw feed bytes (CAP 1.2, CAP 1.1, the national 国突 dialect, JSON) → Warning.

`parse_feed` raises only `FeedError`, whose `reason` is a stable code for the dead-letter topic.
`parse_feed_checked` also returns the XML signature verdict; `verify_signature` checks one on its own.
"""

from warnengine.normalise.errors import FeedError
from warnengine.normalise.parse import parse_feed, parse_feed_checked
from warnengine.normalise.signature import SignatureStatus, SignatureVerdict, verify_signature
from warnengine.normalise.trust import TrustConfigError, TrustStore

__all__ = [
    "FeedError",
    "SignatureStatus",
    "SignatureVerdict",
    "TrustConfigError",
    "TrustStore",
    "parse_feed",
    "parse_feed_checked",
    "verify_signature",
]
