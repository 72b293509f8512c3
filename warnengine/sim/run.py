"""`warnengine simulate --in-process`: the engine's stage functions (normalise, resolve → plan, dispatch,
acks, escalation, reconciler) called one after another against the simulated world, on a real SQLite
record, with the engine clock stepped. No broker: fast, for trying scenarios. The default mode runs the
same stages as the worker's Faust agents over Kafka (`warnengine.embedded.simulate`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from warnengine.acks.people import apply_app_acks, apply_channel_events
from warnengine.acks.stage import apply_speaker_acks
from warnengine.clock import ManualClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.people import PEOPLE, dispatch_people
from warnengine.dispatch.stage import DispatchPolicy, dispatch_loudspeakers
from warnengine.escalate.ladder import escalate
from warnengine.escalate.upward import report_upward
from warnengine.model import HazardWarning
from warnengine.normalise.stage import accept_feed
from warnengine.plan.policy import DisseminationPolicy
from warnengine.plan.stage import plan_deliveries
from warnengine.reconcile.stage import EmitVillage, EmitWarning, sweep
from warnengine.resolve.directory import Directory
from warnengine.signing import Signer
from warnengine.sim.field import field_work, with_shelters
from warnengine.sim.scenario import Scenario
from warnengine.sim.summary import summarise
from warnengine.sim.world import Answers, World, answers, visitors_walk

START = 1_782_864_000.0  # 2026-07-01 00:00 UTC: a fixed engine time, so runs repeat exactly
SOURCE = "manual"  # the feed topic the simulated warning arrives on
# Delivery settings of a simulation: commands live for the run; unplayed terminals are re-sent a minute
# on; the reconciler sweeps once a simulated minute.
DISPATCH = DispatchPolicy(command_ttl_s=6 * 3600, resend_after_s=60.0, max_attempts=10)
RECONCILE_EVERY_S = 60.0
SIM_TZ = ZoneInfo("Asia/Shanghai")  # the county's time in the upward reports' text


def feed_message(sc: Scenario, county_code: str, t0: float) -> bytes:
    """The scenario's warning as a generic-JSON feed message (docs/feeds.md), as a feed would send it."""
    sent = datetime.fromtimestamp(t0, UTC)
    doc = {
        "sender": "simulate",
        "identifier": f"sim-{sc.seed}",
        "sent": sent.isoformat(),
        "msg_type": "Alert",
        "status": "Actual",
        "hazard": sc.warning.hazard.value,
        "severity": sc.warning.severity.value,
        "event": "模拟预警",
        "headline": f"模拟{sc.warning.severity.value}预警",
        "expires": (sent + timedelta(minutes=sc.minutes + 60)).isoformat(),
        "areas": [{"description": "模拟区域", "codes": sc.warning.codes or [county_code]}],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def county_code(county: County) -> str:
    return next(c.code for c in county.cells if c.level.value == "county")


async def simulate(
    sc: Scenario, county: County, db_path: Path, policy: DisseminationPolicy, html: Path | None = None
) -> dict[str, Any]:
    clock = ManualClock(START)
    engine = connect(f"sqlite+aiosqlite:///{db_path}")
    await migrate(engine)
    store = Store(engine, clock)
    county = with_shelters(sc.field, county)
    try:
        await store.import_directory(**county.records())
        directory = await Directory.load(store)
        world = World(sc, county, directory, clock)
        return await _run(sc, store, directory, world, policy, county, html)
    finally:
        await store.close()


async def _run(
    sc: Scenario,
    store: Store,
    directory: Directory,
    world: World,
    policy: DisseminationPolicy,
    county: County,
    html: Path | None,
) -> dict[str, Any]:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    t0 = clock.now()
    w, _ = await accept_feed(feed_message(sc, county_code(county), t0), SOURCE, store)
    pending: set[str] = set(await plan_deliveries(w, directory, policy, store, DISPATCH.command_ttl_s))

    async def emit(_wid: str, _version: int, village: str) -> None:
        pending.add(village)

    async def emit_warning(_w: HazardWarning) -> None:
        return None  # one warning, resolved above

    signer = Signer(Ed25519PrivateKey.generate())
    end = t0 + sc.minutes * 60
    next_sweep = t0 + RECONCILE_EVERY_S
    while clock.now() <= end:
        if pending:
            tasks = [(w, v) for v in sorted(pending)]
            pending.clear()
            await dispatch_loudspeakers(tasks, store, world, signer, DISPATCH)  # type: ignore[arg-type]
            await dispatch_people(tasks, store, world.send_people, DISPATCH)
        await apply_answers(answers(world), store, directory)
        await escalate(store, directory, policy, emit)
        await report_upward(store, directory, policy, emit, SIM_TZ)
        await visitors_walk(sc, world, store, w.warning_id)
        await field_work(sc.field, world, store, w.warning_id)
        if clock.now() >= next_sweep:  # unplayed terminals and stalled villages are re-sent
            next_sweep += RECONCILE_EVERY_S
            await reconcile(store, emit_warning, emit)
        clock.advance(sc.step_s)
    return await summarise(store, sc, w.warning_id, t0, html)


async def reconcile(store: Store, emit_warning: EmitWarning, emit_village: EmitVillage) -> None:
    """The reconciler's sweep with the simulation's delivery settings (every channel has a provider)."""
    await sweep(
        store,
        emit_warning,
        emit_village,
        RECONCILE_EVERY_S,
        DISPATCH.resend_after_s,
        DISPATCH.max_attempts,
        [c.value for c in PEOPLE],
    )


async def apply_answers(a: Answers, store: Store, directory: Directory) -> None:
    if a.played:
        await apply_speaker_acks(a.played, store)
    if a.events:
        await apply_channel_events(a.events, store, directory)
    if a.app:
        await apply_app_acks(a.app, store)
