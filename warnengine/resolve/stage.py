"""The resolve stage: record which villages a warning version reaches and hand each one on."""

from __future__ import annotations

import time

from warnengine.db.store import Store
from warnengine.model import MsgType, Warning
from warnengine.obs import metrics
from warnengine.resolve.index import VillageIndex


async def resolve(w: Warning, index: VillageIndex, store: Store) -> list[str]:
    """Villages of `w`, recorded idempotently; the caller emits one village task per village."""
    t0 = time.perf_counter()
    if w.msg_type == MsgType.CANCEL:  # stop wherever an earlier version was sent, whatever its area said
        villages = await store.villages_reached(w.warning_id, w.version)
    else:
        villages = index.match_all(w.areas)
    metrics.RESOLVE_SECONDS.observe(time.perf_counter() - t0)
    if not await store.set_resolved(w, villages):
        return []  # superseded or cancelled while it travelled
    metrics.VILLAGES_TARGETED.inc(len(villages))
    return villages
