"""The normalise stage: raw feed bytes → a recorded, normalised warning (or a clear rejection)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from warnengine.errors import BadInput
from warnengine.model import HazardWarning, MsgType
from warnengine.normalise.feeds.signal_table import SignalTable
from warnengine.normalise.parse import parse_feed_checked
from warnengine.normalise.store import NormaliseStore
from warnengine.normalise.trust import TrustStore
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.normalise")


@dataclass(frozen=True)
class FeedPolicy:
    """What the normaliser trusts and allows; built once per worker."""

    trust: TrustStore | None = None
    signals: SignalTable | None = None
    max_bytes: int = 4 * 1024 * 1024


async def accept_feed(
    raw: bytes,
    source: str,
    store: NormaliseStore,
    policy: FeedPolicy | None = None,
    first: Callable[[HazardWarning, str], Awaitable[None]] | None = None,
) -> tuple[HazardWarning, str]:
    """Parse, check, record. Raises FeedError/BadInput for bad input. `first(warning, verdict)` runs as
    soon as the warning version is recorded, before the feed message's record (the loudspeaker fast path).

    Returns the warning and the store's verdict (new, duplicate, superseded, cancel). A duplicate is
    still handed on, because downstream stages are idempotent and a redelivery must finish the job; a
    superseded version (it arrived after a newer one or after the Cancel) is recorded, never broadcast.
    """
    policy = policy or FeedPolicy()
    if len(raw) > policy.max_bytes:
        raise BadInput("too_large", f"{len(raw)} bytes; the limit is {policy.max_bytes}")
    w, signature = parse_feed_checked(
        raw, source, policy.trust, signals=policy.signals, max_bytes=policy.max_bytes
    )
    if not w.has_area and w.msg_type != MsgType.CANCEL:
        raise BadInput("no_area", f"warning {w.identifier!r} names no polygon, circle or area code")
    verdict = await store.save_warning(w)
    if first is not None:
        await first(w, verdict)
    await store.record_feed(digest(raw), source, verdict, w.warning_id, w.version)
    metrics.FEED_MESSAGES.labels(source, "accepted" if verdict != "duplicate" else "duplicate").inc()
    if verdict != "duplicate":
        metrics.WARNINGS.labels(w.hazard.value, w.severity.value, w.msg_type.value).inc()
        log.info(
            "signature",
            warning_id=w.warning_id,
            status=signature.status.value,
            sender=signature.sender,
            signer=signature.signer or None,
            detail=signature.detail or None,
        )
    return w, verdict


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
