"""One reconciler sweep. Run by the leader worker every few seconds; safe to run anywhere, any time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from warnengine.model import HazardWarning
from warnengine.obs import metrics
from warnengine.reconcile.store import ReconcileStore

log = structlog.get_logger("warnengine.reconcile")

EmitWarning = Callable[[HazardWarning], Awaitable[None]]
EmitVillage = Callable[[str, int, str], Awaitable[None]]


@dataclass(frozen=True)
class SweepResult:
    warnings: int
    villages: int
    expired: int


async def sweep(
    store: ReconcileStore,
    emit_warning: EmitWarning,
    emit_village: EmitVillage,
    grace_s: float,
    resend_after_s: float,
    max_attempts: int,
    people_channels: Sequence[str] = (),
) -> SweepResult:
    before = store.clock.now() - grace_s
    stale = await store.stale_warnings(before)
    for w in stale:
        await emit_warning(w)
    if stale:
        await store.touch_warnings([(w.warning_id, w.version) for w in stale])
    villages = await store.unfinished_villages(
        before, resend_after_s, max_attempts, people_channels=people_channels
    )
    for warning_id, version, village in villages:
        await emit_village(warning_id, version, village)
    if villages:
        await store.touch_villages(villages)
    expired = await store.expire_deliveries()
    metrics.RECONCILE_REEMITS.labels("resolve").inc(len(stale))
    metrics.RECONCILE_REEMITS.labels("dispatch").inc(len(villages))
    metrics.DELIVERIES_EXPIRED.inc(expired)
    now = store.clock.now()
    metrics.set_unreached((metrics.Unreached(*r) for r in await store.unreached()), now)
    metrics.set_households(await store.households_in_force())
    metrics.RECONCILE_LAST_SWEEP.set(now)
    if stale or villages or expired:
        log.info("reconciled", warnings=len(stale), villages=len(villages), expired=expired)
    return SweepResult(len(stale), len(villages), expired)
