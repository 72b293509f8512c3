"""The simulated population's visitors under `up` and `demo` (design decision 22): group leaders and grid
heads who answer walk their visit lists at the scenario's `visits_per_hour` on the engine clock and report
each door to the API's visit endpoint with a bearer token, as the visitors' phone app does. Who walks is
the same population the workers' simulated providers deliver to (`World.live`: fates by person id).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import aiohttp
import structlog
from sqlalchemy import select

from warnengine.api.accounts import create_user
from warnengine.api.auth import ApiRole, digest, new_token
from warnengine.clock import Clock, clock_for
from warnengine.db import connect
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.resolve.directory import Directory
from warnengine.settings import Settings
from warnengine.sim.scenario import Scenario, load_scenario
from warnengine.sim.world import Report, World, visitors_walk

log = structlog.get_logger("warnengine.simulated")

VISITOR_USER = "sim-visitors"


async def visitor_token(store: Store) -> str:
    """A bearer token of the simulated visitors' account (grid staff, created once; a new token a start)."""
    if await store.get_user(VISITOR_USER) is None:
        display = "模拟入户人员 simulated visitors"
        await create_user(
            store, VISITOR_USER, secrets.token_urlsafe(18), ApiRole.GRID_STAFF, display, must_change=False
        )
    token = new_token()
    await store.add_token(digest(token), VISITOR_USER, "模拟 simulated visitors", None)
    return token


async def open_warnings(store: Store) -> list[str]:
    vt = t.visit_tasks.c
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(vt.warning_id).distinct().where(vt.state.in_(("open", "accepted"))))
        return sorted(str(r.warning_id) for r in rows)


class Visitors:
    """Walks every open visit task of every warning, one step of the scenario's `step_s` at a time."""

    def __init__(
        self, sc: Scenario, store: Store, directory: Directory, clock: Clock, speed: float, api_url: str
    ) -> None:
        self.sc, self.store, self.clock, self.api_url = sc, store, clock, api_url
        self.step_wall_s = max(0.5, sc.step_s / speed)  # a step of engine time, in wall seconds
        self.world = World.live(sc, directory, clock)
        self.reports = 0  # doors reported and recorded
        self.refused = 0  # reports the API refused (the door was closed meanwhile: a reply came first)

    async def run(self, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            last = self.clock.now()
            while True:
                await asyncio.sleep(self.step_wall_s)
                now = self.clock.now()
                try:
                    for warning_id in await open_warnings(self.store):
                        report = self._reporter(http)
                        await visitors_walk(self.sc, self.world, self.store, warning_id, report, now - last)
                except (aiohttp.ClientError, OSError) as e:  # the API restarting: walk on next step
                    log.warning("simulated_visitors_failed", error=repr(e))
                last = now

    def _reporter(self, http: aiohttp.ClientSession) -> Report:
        async def report(
            task: str, household: str, outcome: str, _at: float, note: str | None, headcount: int | None
        ) -> bool:
            url = f"{self.api_url}/api/v1/visits/{task}/households/{household}"
            body = {"outcome": outcome, "note": note, **({"headcount": headcount} if headcount else {})}
            async with http.post(url, json=body) as r:
                ok = r.status == 200
                if r.status not in (200, 404):  # 404: the door closed meanwhile (a reply came first)
                    log.warning("simulated_visit_refused", status=r.status, task=task, household=household)
            self.reports += ok
            self.refused += not ok
            return ok

        return report


class VisitorsRunning:
    """The visitors' task and what it holds, to stop together."""

    def __init__(self, visitors: Visitors, task: asyncio.Task[None]) -> None:
        self.visitors, self.task = visitors, task

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.visitors.store.close()


async def start_visitors(s: Settings, api_url: str) -> VisitorsRunning:
    """The simulated visitors of the stack's population, reporting to the API at `api_url`."""
    clock = clock_for(s.clock_speed, s.clock_epoch)
    store = Store(connect(s.db_url()), clock)
    sc = load_scenario(s.sim_scenario)
    visitors = Visitors(sc, store, await Directory.load(store), clock, s.clock_speed, api_url)
    token = await visitor_token(store)
    log.info(
        "simulated_visitors", message="模拟 / simulated visitors", api=api_url, per_hour=sc.visits_per_hour
    )
    return VisitorsRunning(visitors, asyncio.create_task(visitors.run(token)))


async def visitors_if_simulated(s: Settings, api_url: str | None, mode: str) -> VisitorsRunning | None:
    """With simulated providers (and an API to report to), their population's visitors walk too."""
    if mode != "simulated" or api_url is None:
        return None
    return await start_visitors(s, api_url)
