"""The normalise stage: raw feed bytes → a recorded, normalised warning (or a clear rejection)."""

from __future__ import annotations

import hashlib

from warnengine.db.store import Store
from warnengine.errors import BadInput
from warnengine.model import MsgType, Warning
from warnengine.normalise.parse import parse_feed
from warnengine.obs import metrics


async def accept_feed(raw: bytes, source: str, store: Store) -> Warning:
    """Parse, check, record. Raises FeedError/BadInput for bad input; returns the warning even when it
    was recorded before, because downstream stages are idempotent and a redelivery must finish the job."""
    w = parse_feed(raw, source)
    if not w.has_area and w.msg_type != MsgType.CANCEL:
        raise BadInput("no_area", f"warning {w.identifier!r} names no polygon, circle or area code")
    new = await store.save_warning(w)
    await store.record_feed(digest(raw), source, "accepted" if new else "duplicate", w.warning_id, w.version)
    metrics.FEED_MESSAGES.labels(source, "accepted" if new else "duplicate").inc()
    if new:
        metrics.WARNINGS.labels(w.hazard.value, w.severity.value, w.msg_type.value).inc()
    return w


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
