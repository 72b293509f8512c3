"""The loudspeakers first: group commands from the resolve stage, and the earthquake fast path.

A warning's terminals are addressed by cell where whole cells are targeted (warnengine/dispatch/groups.py)
straight from the stage that knows the whole reach; only the villages that are not whole cells travel on
as per-village tasks to the dispatch stage. An earthquake early warning goes further: the normalise stage
itself, right after recording the warning and before the feed record or any planning, claims the
terminals' deliveries and publishes the group commands; the people's plan follows on the normal path.
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
    earthquake fast path skips the look-up (`check_live=False`): it has just recorded the version."""
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


async def eew_fast_path(p: Pipeline, w: HazardWarning) -> None:
    """Earthquake: the terminals' group commands now, from the feed; never in the way of the normal path
    (a failure is logged and the resolve stage, then the reconciler, still reach every terminal)."""
    t0 = time.perf_counter()
    rt = p.rt
    try:
        reach = resolve_areas(rt.directory, w.areas)
        rule = rt.dissemination.rule_for(w.hazard, w.severity, w.event)
        speakers = speaker_targets(w, reach, rt.directory, rule)
        left = await speak_by_groups(p, w, speakers, check_live=False)
        await p.emit_villages(w.warning_id, w.version, left)
    except Exception as e:  # the normal path follows and reaches every terminal anyway
        log.error("eew_fast_path_failed", warning_id=w.warning_id, version=w.version, error=repr(e))
        return
    metrics.EEW_FAST_SECONDS.observe(time.perf_counter() - t0)
    log.info(
        "eew_fast_path",
        warning_id=w.warning_id,
        version=w.version,
        seconds=round(time.perf_counter() - t0, 4),
    )
