"""The plan stage: a warning version → its reach (villages, households), planned and recorded.

The plan (per-household rows, per-person deliveries, per-terminal deliveries) is written before the
version is marked resolved, so a crash in between only makes the reconciler run it again, and the
inserts are idempotent. The caller then emits one task per village: fan-out travels per village,
never one Kafka message per person.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from operator import itemgetter

import structlog

from warnengine.model import Channel, HazardWarning, MsgType, delivery_id
from warnengine.obs import metrics
from warnengine.plan.orgs import org_key, plan_orgs
from warnengine.plan.plan import VillagePlan, person_delivery_id, plan_warning, speaker_targets
from warnengine.plan.policy import DisseminationPolicy, Rule
from warnengine.plan.store import PlanStore
from warnengine.resolve.directory import Directory
from warnengine.resolve.targets import Reach, resolve_areas

log = structlog.get_logger("warnengine.resolve")


async def plan_deliveries(
    w: HazardWarning,
    directory: Directory,
    policy: DisseminationPolicy,
    store: PlanStore,
    default_ttl_s: float,
    on_speakers: Callable[[list[tuple[str, list[str]]]], Awaitable[None]] | None = None,
) -> list[str]:
    """Villages of `w`, recorded idempotently; [] when it was superseded meanwhile or targets nobody.

    The terminals' deliveries are written first — by `on_speakers`, when given, which is told them (village,
    terminals) and records them itself (the pipeline's group commands write them already claimed) — so the
    loudspeakers start within a second while the people's plan (hundreds of thousands of rows in a large
    county) is computed and written; the returned villages then carry the people's deliveries.
    """
    t0 = time.perf_counter()
    if w.msg_type == MsgType.CANCEL:  # stop wherever an earlier version was sent, whatever its area said
        stop = await store.villages_reached(w.warning_id, w.version)
        stop += await _cancel_orgs(w, store, default_ttl_s, stop)
        stop += await _cancel_people(w, store, default_ttl_s, stop)
        return await _record(w, stop, store, t0)
    reach = resolve_areas(directory, w.areas)
    if reach.problems:
        metrics.AREA_PROBLEMS.inc(len(reach.problems))
        log.warning("area_problems", warning_id=w.warning_id, version=w.version, problems=reach.problems)
    rule = policy.rule_for(w.hazard, w.severity, w.event)
    now = store.clock.now()
    expires = w.expires.timestamp() if w.expires else now + default_ttl_s
    speakers = speaker_targets(w, reach, directory, rule)
    if speakers and on_speakers is not None:
        await on_speakers(speakers)
    elif speakers:
        await store.save_plan(speaker_rows(w, speakers, now, expires), [])
    # Written in slices while the next one is computed: the database works (in its thread or server)
    # while Python plans, and memory stays bounded however large the county.
    villages: list[str] = []
    batch: list[VillagePlan] = []
    rows = planned = 0
    writing: asyncio.Task[int] | None = None
    try:
        for plan in plan_warning(w, reach, directory, rule):
            villages.append(plan.village)
            batch.append(plan)
            rows += len(plan.deliveries) + len(plan.devices) + len(plan.households)
            if rows >= store.plan_slice_rows:
                planned += await writing if writing else 0
                writing = asyncio.create_task(_save(w, batch, store, now, expires))
                batch, rows = [], 0
            await asyncio.sleep(0)  # let the write in flight move on
        planned += (await writing if writing else 0) + await _save(w, batch, store, now, expires)
    finally:
        if writing and not writing.done():  # failed part-way: the guard retries the whole, idempotently
            writing.cancel()
    villages += await _save_orgs(w, reach, directory, rule, store, now, expires, villages)
    if not villages:
        reason = "; ".join(reach.problems) or "the area contains no village, household or terminal on record"
        if await store.flag_untargeted(w):  # on the dead-letter record, where the console lists it
            await store.dead_letter(
                "resolve", "no_targets", reason, w.model_dump_json(), w.source, w.warning_id
            )
            metrics.WARNINGS_UNTARGETED.inc()
            log.error("warning_targets_nobody", warning_id=w.warning_id, version=w.version, reason=reason)
        return []
    metrics.DELIVERIES_PLANNED.inc(planned)
    return await _record(w, villages, store, t0)


async def _save_orgs(
    w: HazardWarning,
    reach: Reach,
    directory: Directory,
    rule: Rule,
    store: PlanStore,
    now: float,
    expires: float,
    villages: list[str],
) -> list[str]:
    """The orgs the warning covers (plan/orgs.py), written; returns their villages not yet in `villages`
    (a village with an org and no household still gets its task, so the org's messages go)."""
    plan = plan_orgs(w, reach, directory, rule, now, expires)
    if not plan.orgs:
        return []
    await store.save_org_plan(plan.orgs, plan.links)
    await store.save_plan(sorted(plan.deliveries, key=itemgetter(0)), [])
    metrics.DELIVERIES_PLANNED.inc(len(plan.deliveries))
    return [v for v in plan.villages if v not in villages]


async def _cancel_orgs(w: HazardWarning, store: PlanStore, ttl_s: float, villages: list[str]) -> list[str]:
    """A Cancel (解除) to every responsible person an earlier version messaged for an org, on the same
    channel and address, under their org key (one per org they answer for): a school kept indoors must
    hear it is over. Not linked to the org (org_deliveries), so a reply to it never marks the org reached.
    Returns their villages not yet in `villages` (people dispatch runs per village)."""
    told = [
        (org_key(pid, org), channel, addr, village, pid)
        for pid, org, channel, addr, village in await store.org_recipients(w.warning_id, w.version)
    ]
    return await _save_cancel(w, store, ttl_s, villages, told, "cancel_orgs")


async def _cancel_people(w: HazardWarning, store: PlanStore, ttl_s: float, villages: list[str]) -> list[str]:
    """A Cancel to every person an earlier version messaged for themselves (residents told to move, staff
    on a visit list), once each, on the channel that reached them best (`people_told`): whoever was
    warned hears it is over. No household on the row: a reply to it reaches no household."""
    told = [(pid, ch, addr, v, pid) for pid, ch, addr, v in await store.people_told(w.warning_id, w.version)]
    return await _save_cancel(w, store, ttl_s, villages, told, "cancel_people")


async def _save_cancel(
    w: HazardWarning,
    store: PlanStore,
    ttl_s: float,
    villages: list[str],
    told: list[tuple[str, str, str, str, str]],
    event: str,
) -> list[str]:
    """The Cancel's deliveries to `told` (key, channel, address, village, person), step 0, the people
    message of a Cancel ("预警已解除。", dispatch/compose.py); their villages not yet in `villages`."""
    if not told:
        return []
    now = store.clock.now()
    expires = w.expires.timestamp() if w.expires else now + ttl_s
    wid, ver = w.warning_id, w.version
    rows: list[tuple[object, ...]] = []
    for key, ch, addr, v, pid in told:  # no household (a reply reaches none), step 0, the Cancel's text
        did = person_delivery_id(wid, ver, key, ch)
        rows.append((did, wid, ver, v, ch, addr, "pending", 0, now, expires, pid, None, 0, None))
    rows.sort(key=itemgetter(0))
    await store.save_plan(rows, [])
    metrics.DELIVERIES_PLANNED.inc(len(rows))
    log.info(event, warning_id=wid, version=ver, deliveries=len(rows))
    return sorted({str(r[3]) for r in rows} - set(villages))


async def _save(
    w: HazardWarning, plans: list[VillagePlan], store: PlanStore, now: float, expires: float
) -> int:
    if not plans:
        return 0
    deliveries, households = plan_rows(w, plans, now, expires, devices=False)  # terminals: written first
    await store.save_plan(deliveries, households)
    return len(deliveries)


def speaker_rows(
    w: HazardWarning, speakers: list[tuple[str, list[str]]], now: float, expires: float
) -> list[tuple[object, ...]]:
    wid, ver, speaker = w.warning_id, w.version, Channel.LOUDSPEAKER.value
    return [
        (
            delivery_id(wid, ver, d, Channel.LOUDSPEAKER),
            wid,
            ver,
            v,
            speaker,
            d,
            "pending",
            0,
            now,
            expires,
            None,
            None,
            0,
            None,
        )
        for v, devices in speakers
        for d in devices
    ]


def plan_rows(
    w: HazardWarning, plans: list[VillagePlan], now: float, expires: float, devices: bool = True
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The plans as rows in the store's column order (DELIVERY_COLUMNS, HOUSEHOLD_COLUMNS)."""
    wid, ver, pending = w.warning_id, w.version, "pending"
    deliveries: list[tuple[object, ...]] = []
    households: list[tuple[object, ...]] = []
    for p in plans:
        v = p.village
        deliveries += [
            (did, wid, ver, v, ch, addr, pending, 0, now, expires, pid, hid, 0, None)
            for did, ch, addr, pid, hid, _cell in p.deliveries
        ]
        if devices:
            deliveries += speaker_rows(w, [(v, p.devices)], now, expires)
        households += [(wid, hid, ver, v, cell, vul, "targeted", now, now) for hid, cell, vul in p.households]
    # In key order, the inserts walk the primary-key B-tree once instead of hopping around it (~2x on SQLite).
    deliveries.sort(key=itemgetter(0))
    return deliveries, households


async def _record(w: HazardWarning, villages: list[str], store: PlanStore, t0: float) -> list[str]:
    metrics.RESOLVE_SECONDS.observe(time.perf_counter() - t0)
    if not await store.set_resolved(w, villages):
        return []  # superseded or cancelled while it travelled
    metrics.VILLAGES_TARGETED.inc(len(villages))
    return villages
