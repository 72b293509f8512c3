"""The dispatch stage for one (warning version, village, channel) task."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from channels.base import ChannelAdapter, Outgoing
from warnengine.db.store import Store
from warnengine.dispatch.compose import speaker_command
from warnengine.model import Channel, Warning
from warnengine.obs import metrics
from warnengine.signing import Signer

log = structlog.get_logger("warnengine.dispatch")


@dataclass(frozen=True)
class DispatchPolicy:
    command_ttl_s: float
    resend_after_s: float
    max_attempts: int


@dataclass(frozen=True)
class DispatchResult:
    due: int
    sent: int
    failed: int


async def dispatch_loudspeakers(
    w: Warning,
    village: str,
    store: Store,
    channel: ChannelAdapter,
    signer: Signer,
    policy: DispatchPolicy,
) -> DispatchResult:
    """Record the village's terminal deliveries, then publish those due, attempt recorded before the call."""
    t0 = time.perf_counter()
    now = store.clock.now()
    expires_at = w.expires.timestamp() if w.expires else now + policy.command_ttl_s
    devices = await store.devices_of(village)
    due = await store.due_deliveries(
        w, village, Channel.LOUDSPEAKER, devices, expires_at, policy.resend_after_s, policy.max_attempts
    )
    if not due:
        await store.village_dispatched(w.warning_id, w.version, village)
        return DispatchResult(0, 0, 0)
    await store.mark_attempt([d.delivery_id for d in due])
    batch = [
        Outgoing(
            d.delivery_id,
            d.recipient,
            village,
            speaker_command(w, d.delivery_id, now, d.expires_at, signer),
            d.expires_at,
        )
        for d in due
    ]
    results = await channel.send_batch(batch)
    ok = [r.delivery_id for r in results if r.ok]
    failed = {r.delivery_id: r.reason or "send failed" for r in results if not r.ok}
    await store.mark_sent(ok)
    if failed:
        await store.mark_failed(failed)
        log.warning("dispatch_failures", warning_id=w.warning_id, village=village, failed=len(failed))
    await store.village_dispatched(w.warning_id, w.version, village)
    metrics.DELIVERIES.labels(Channel.LOUDSPEAKER.value, "sent").inc(len(ok))
    metrics.DELIVERIES.labels(Channel.LOUDSPEAKER.value, "failed").inc(len(failed))
    metrics.DISPATCH_SECONDS.labels(Channel.LOUDSPEAKER.value).observe(time.perf_counter() - t0)
    return DispatchResult(len(due), len(ok), len(failed))
