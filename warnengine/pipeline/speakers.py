"""The loudspeakers first: straight from the normalise stage, before any planning of people.

A warning's terminals are addressed by cell where whole cells are targeted (warnengine/dispatch/groups.py);
only the villages that are not whole cells travel on as per-village tasks to the dispatch stage. The
normalise stage itself, right after recording a new warning version and before the feed record, claims
the terminals' deliveries and publishes the group commands (the fast path): no Kafka hop, and never
queued behind another warning's people's plan in the resolve stage. The resolve stage does the same again,
idempotently (a redelivery, a fast path that failed), then plans the people.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from warnengine.dispatch.groups import dispatch_groups
from warnengine.model import Hazard, HazardWarning, MsgType
from warnengine.obs import metrics
from warnengine.pipeline.pipeline import Pipeline
from warnengine.plan.plan import speaker_targets
from warnengine.plan.stage import speaker_rows
from warnengine.resolve.targets import resolve_areas

log = structlog.get_logger("warnengine.dispatch")


def is_eew(w: HazardWarning) -> bool:
    """An earthquake warning (not its Cancel): the one hazard where seconds decide."""
    return w.hazard == Hazard.EARTHQUAKE and w.msg_type != MsgType.CANCEL


async def speak_by_groups(
    p: Pipeline, w: HazardWarning, speakers: Sequence[tuple[str, Sequence[str]]], *, check_live: bool = True
) -> list[str]:
    """Group commands for the whole cells among `speakers`; the villages left for per-terminal dispatch.

    A version superseded meanwhile (a redelivered record, an update that overtook it) commands nobody, as
    the per-terminal dispatch stage does: one publish would reach a whole county with outdated words. The
    fast path skips the look-up (`check_live=False`): it has just recorded the version."""
    rt = p.rt
    key = (w.warning_id, w.version)
    if check_live and key not in await rt.store.live_versions([key]):
        log.info("groups_skipped_not_live", warning_id=w.warning_id, version=w.version)
        return []
    if not p.settings.group_commands:
        return [v for v, ds in speakers if ds]
    now = rt.store.clock.now()
    expires = w.expires.timestamp() if w.expires else now + p.settings.command_ttl_s
    on_record = {v: [d for d, _ in ds] for v, ds in rt.directory.devices.items()}
    res = await dispatch_groups(w, speakers, on_record, rt.store, rt.speaker, rt.signers, rt.policy, expires)
    if res.groups:
        log.info(
            "groups_dispatched",
            warning_id=w.warning_id,
            version=w.version,
            groups=len(res.groups),
            levels=sorted(set(res.groups.values())),
            villages=len(res.villages),
            sent=res.sent,
            left=len(res.left),
            **res.phases,
        )
    return res.left


async def speakers_now(
    p: Pipeline, w: HazardWarning, speakers: Sequence[tuple[str, Sequence[str]]], *, check_live: bool = True
) -> list[str]:
    """Group commands for the whole cells; the other villages' terminal deliveries recorded and handed to
    the dispatch stage as village tasks. Returns those villages."""
    rt = p.rt
    left = set(await speak_by_groups(p, w, speakers, check_live=check_live))
    rest = [(v, list(ds)) for v, ds in speakers if v in left]
    if rest:
        now = rt.store.clock.now()
        expires = w.expires.timestamp() if w.expires else now + p.settings.command_ttl_s
        await rt.store.save_plan(speaker_rows(w, rest, now, expires), [])
    villages = [v for v, _ in rest]
    await p.emit_villages(w.warning_id, w.version, villages)
    return villages


async def fast_path(p: Pipeline, w: HazardWarning) -> None:
    """A new version's loudspeakers now, from the feed; never in the way of the normal path (a failure is
    logged and the resolve stage, then the reconciler, still reach every terminal)."""
    if w.msg_type == MsgType.CANCEL:  # the stop goes by the villages reached: the resolve stage knows them
        return
    t0 = time.perf_counter()
    rt = p.rt
    try:
        reach = resolve_areas(rt.directory, w.areas)
        rule = rt.dissemination.rule_for(w.hazard, w.severity, w.event)
        speakers = speaker_targets(w, reach, rt.directory, rule)
        if not speakers:
            return
        await speakers_now(p, w, speakers, check_live=False)  # just recorded as the newest version
    except Exception as e:  # the normal path follows and reaches every terminal anyway
        log.error("speakers_fast_path_failed", warning_id=w.warning_id, version=w.version, error=repr(e))
        return
    took = time.perf_counter() - t0
    metrics.SPEAKERS_FAST_SECONDS.labels("eew" if is_eew(w) else "other").observe(took)
    log.info("speakers_fast_path", warning_id=w.warning_id, version=w.version, seconds=round(took, 4))
