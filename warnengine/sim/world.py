"""The simulated world outside the engine: terminals that play (or are offline), an SMS gateway that refuses
invalid numbers, residents who answer after a delay or never, staff who answer (or not), and visitors who
walk from door to door at a set pace. Its fates are drawn once from the scenario's seed; the engine sees it
only through its channel adapters (commands and messages in) and through acks, receipts, replies and visit
reports (out), which `simulate` hands to the engine the way the real ones arrive.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from channels.base import Outgoing, SendResult
from warnengine.clock import Clock
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import AckState, Channel, DeliveryState, Role, SpeakerAck
from warnengine.resolve.directory import Directory
from warnengine.sim.scenario import Scenario
from warnengine.wire.records import AppAck, ChannelEvent

PLAY_AFTER_S = 20.0
RING_S = 30.0  # a call nobody picks up rings this long before the provider reports no-answer


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False)


def _delay(sc: Scenario, role: Role, rng: random.Random) -> float | None:
    """A person's answer: seconds after the first message that reaches them, or None (never)."""
    staff = role is not Role.RESIDENT
    never = sc.staff_never_reply if staff else sc.never_reply
    lo, hi = sc.staff_reply_delay_min if staff else sc.reply_delay_min
    return None if rng.random() < never else rng.uniform(lo, hi) * 60


class World:
    """The people and terminals of the county, with their fates drawn once from the scenario's seed."""

    def __init__(self, sc: Scenario, county: County | None, directory: Directory, clock: Clock) -> None:
        rng = random.Random(sc.seed)
        self.sc, self.clock, self.directory, self.rng = sc, clock, directory, rng
        self.delay: dict[str, float | None] = {}
        self.offline: set[str] = set()
        self.invalid: set[str] = set()
        self.calls_only: set[str] = set()  # staff who answer a call but not a text
        self.asleep: set[str] = set()  # people a text does not wake at night
        self.for_household: set[str] = set()  # residents who answer "全家" (for their whole household)
        if county is None:
            self._draw_each(sc, directory)
        else:
            devices = sorted(d.device_id for d in county.devices)
            self.offline = set(rng.sample(devices, round(len(devices) * sc.terminals_offline)))
            phones = sorted({p.phone for p in county.people if p.phone})
            self.invalid = set(rng.sample(phones, round(len(phones) * sc.invalid_numbers)))
            for p in county.people:
                self.delay[p.person_id] = _delay(sc, p.role, rng)
            staff_ids = sorted(p.person_id for p in county.people if p.role is not Role.RESIDENT)
            # Drawn after the reply delays, so a scenario without these knobs keeps its fates.
            self.calls_only = set(rng.sample(staff_ids, round(len(staff_ids) * sc.staff_calls_only)))
            everyone = sorted(self.delay)
            self.asleep = set(rng.sample(everyone, round(len(everyone) * sc.night_asleep)))
            self.for_household = set(rng.sample(everyone, round(len(everyone) * sc.household_replies)))
        self.answered: set[str] = set()
        self.queue: list[_Due] = []
        self._seq = itertools.count()
        self.credit: dict[str, float] = {}
        self.take_at: dict[str, float] = {}  # sim/field.py: when each report is taken, each door evacuated…

    @classmethod
    def live(cls, sc: Scenario, directory: Directory, clock: Clock) -> World:
        """The population of the record's directory, for simulated providers under `up` (no terminals:
        the real farm plays). Each fate is drawn from the seed and the person's own id, so every process
        (each worker, the visitors) that builds it agrees on who answers, whatever order it reads people in.
        """
        return cls(sc, None, directory, clock)

    def _draw_each(self, sc: Scenario, directory: Directory) -> None:
        for c in directory.contacts().values():
            own = random.Random(f"{sc.seed}/{c.person_id}")
            self.delay[c.person_id] = _delay(sc, c.role, own)
            if c.role is not Role.RESIDENT and own.random() < sc.staff_calls_only:
                self.calls_only.add(c.person_id)
            if own.random() < sc.night_asleep:
                self.asleep.add(c.person_id)
            if c.phone and random.Random(f"{sc.seed}/phone/{c.phone}").random() < sc.invalid_numbers:
                self.invalid.add(c.phone)
            if random.Random(f"{sc.seed}/household/{c.person_id}").random() < sc.household_replies:
                self.for_household.add(c.person_id)

    def later(self, after_s: float, kind: str, payload: Any) -> None:
        heapq.heappush(self.queue, _Due(self.clock.now() + after_s, next(self._seq), kind, payload))

    def due(self) -> list[_Due]:
        out = []
        while self.queue and self.queue[0].at <= self.clock.now():
            out.append(heapq.heappop(self.queue))
        return out

    # --- the engine's channels, as the world sees them -------------------------------------------

    kind = Channel.LOUDSPEAKER
    name = "sim"
    batch_size = 5000
    rate_per_s = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Loudspeakers: every command reaches the broker; the online terminals play it."""
        for o in batch:
            if o.recipient not in self.offline:
                # As the MQTT ack listener reads it: the device is the one whose topic the ack came on.
                ack = SpeakerAck(cmd_id=o.delivery_id, state=AckState.PLAYED, at=0.0, device_id=o.recipient)
                self.later(PLAY_AFTER_S, "played", ack)
        return [SendResult(o.delivery_id, True) for o in batch]

    async def send_people(self, channel: Channel, batch: Sequence[Outgoing]) -> list[SendResult]:
        out = []
        for o in batch:
            if channel is Channel.SMS and o.recipient in self.invalid:
                out.append(
                    SendResult(
                        o.delivery_id, False, False, "21211: The 'To' number is not a valid phone number"
                    )
                )
                continue
            out.append(SendResult(o.delivery_id, True))
            if channel is Channel.SMS:
                self.later(5.0, "status", o.delivery_id)
            replied = False
            for pid in self.directory.people_at(o.recipient):
                if channel is not Channel.VOICE and (pid in self.calls_only or pid in self.asleep):
                    continue  # a text nobody reads: only a call gets through to them
                delay = self.delay.get(pid)
                if delay is not None and pid not in self.answered:
                    self.answered.add(pid)  # one answer per person: to the first message that reached them
                    self.later(delay, "reply", (channel, o.recipient, o.delivery_id, pid))
                    replied = True
            if channel is Channel.VOICE and not replied:
                self.later(RING_S, "no_answer", o.delivery_id)  # it rang out: the status callback says so
        return out


@dataclass
class Answers:
    """What the world says back in one step, in the shapes the engine's ingress produces: terminal acks
    (the MQTT ack bridge), provider receipts and replies (the webhooks), app acknowledgements (the API)."""

    played: list[SpeakerAck] = field(default_factory=list)
    events: list[ChannelEvent] = field(default_factory=list)
    app: list[AppAck] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.played or self.events or self.app)


@dataclass(frozen=True)
class Providers:
    """The provider names the world's receipts and replies come from (the ack stage maps a reply's
    provider to its channel: warnengine/acks/people.py)."""

    sms: str = "twilio"
    voice: str = "twilio-voice"
    wechat: str = "wechat-oa"


# Under `up`: the simulated adapters' own names (channels/simulated.py), so the record says simulated.
SIMULATED = Providers("sim-sms", "sim-voice", "sim-wechat")


def answers(world: World, names: Providers = Providers()) -> Answers:  # frozen: one shared default is safe
    out = Answers()
    for due in world.due():
        if due.kind == "played":
            out.played.append(due.payload.model_copy(update={"at": due.at}))
        elif due.kind == "status":
            out.events.append(
                ChannelEvent(
                    names.sms, "status", due.at, delivery_id=due.payload, state=DeliveryState.DELIVERED
                )
            )
        elif due.kind == "no_answer":
            out.events.append(
                ChannelEvent(
                    "twilio-voice", "status", due.at, delivery_id=due.payload, state=DeliveryState.FAILED,
                    reason="no_answer: no-answer",
                )
            )  # fmt: skip
        elif due.kind == "reply":
            channel, address, did, pid = due.payload
            if channel is Channel.APP:
                out.app.append(AppAck(delivery_id=did, at=due.at))
            elif channel is Channel.VOICE:  # pressed 1 on the call (the voice webhook's event)
                out.events.append(
                    ChannelEvent(
                        names.voice, "status", due.at, delivery_id=did, state=DeliveryState.ACKNOWLEDGED
                    )
                )
            else:
                provider = names.sms if channel is Channel.SMS else names.wechat
                whole = pid in world.for_household  # "全家" is no ack word: the stage reads the count
                text, hint = ("全家", False) if whole else ("收到", True)
                out.events.append(
                    ChannelEvent(provider, "reply", due.at, sender=address, text=text, ack_hint=hint)
                )
    return out


# A visitor's report of one door: (task, household, outcome, at, note) → recorded or not. `simulate` writes
# it to the record as the visit endpoint does; under `up` the visitors POST it to that endpoint.
# A visitor's report of one door: (task, household, outcome, at, note, headcount or None: the whole
# household) → recorded or not.
Report = Callable[[str, str, str, float, str | None, int | None], Awaitable[bool]]


async def visitors_walk(
    sc: Scenario,
    world: World,
    store: Store,
    warning_id: str,
    report: Report | None = None,
    elapsed_s: float | None = None,
) -> None:
    """Each visitor with an open task reaches `visits_per_hour` households an hour (over `elapsed_s`, a
    step by default), vulnerable first, skipping households reached meanwhile; a visitor who never
    answers never walks either."""
    report = report or _record_visit(store)
    tasks = await store.visit_tasks(warning_id)
    if not tasks:
        return
    async with store.engine.connect() as conn:
        wh = t.warning_households.c
        states = {
            r.household_id: r.state
            for r in await conn.execute(
                select(wh.household_id, wh.state).where(
                    wh.warning_id == warning_id, wh.state.in_(("reached", "needs_help", "nobody_home"))
                )
            )
        }
        members = await _members(conn, warning_id) if sc.partly_home else {}
    reached = {h for h, st in states.items() if st == "reached"}
    per_step = sc.visits_per_hour * (sc.step_s if elapsed_s is None else elapsed_s) / 3600
    outcomes, weights = zip(*sc.visit_outcomes.items(), strict=True)
    again, again_weights = zip(*sc.revisit_outcomes.items(), strict=True)
    walks: dict[str, list[tuple[bool, str, str]]] = {}  # visitor → (vulnerable, household, task), all tasks
    for task in tasks:
        who = task.assignee
        if who is None or world.delay.get(who) is None:
            continue
        walks.setdefault(who, []).extend(
            (vul, household, task.task_id)
            for household, vul, outcome in task.households
            if outcome is None and household not in reached
        )

    def pick(first: bool) -> str:
        return str(world.rng.choices(*((outcomes, weights) if first else (again, again_weights)))[0])

    for who, doors in walks.items():
        if not doors:
            continue
        # One pace per visitor however many lists they hold; the vulnerable doors first.
        world.credit[who] = world.credit.get(who, 0.0) + per_step
        for _vul, household, task_id in sorted(doors, key=lambda d: not d[0]):
            if world.credit[who] < 1:
                break
            world.credit[who] -= 1
            outcome, at, note = _outcome(world, states.get(household), pick)
            headcount = None
            first_home = outcome == "reached" and household not in states and members.get(household, 1) > 1
            if first_home and world.rng.random() < sc.partly_home:  # only part of the household at home
                headcount = world.rng.randint(1, members[household] - 1)
                note = "partly home / 部分在家"
            await report(task_id, household, outcome, at, note, headcount)


def _record_visit(store: Store) -> Report:
    """`simulate`'s reports: straight to the record, as the visit endpoint writes them."""

    async def record(
        task: str, household: str, outcome: str, at: float, note: str | None, n: int | None
    ) -> bool:
        return await store.report_visit(task, household, outcome, at, note, headcount=n)

    return record


async def _members(conn: Any, warning_id: str) -> dict[str, int]:
    """The warning's households' sizes (a partly-home headcount is below them)."""
    wh, h = t.warning_households.c, t.households.c
    rows = await conn.execute(
        select(h.household_id, h.members)
        .join_from(t.warning_households, t.households, h.household_id == wh.household_id)
        .where(wh.warning_id == warning_id)
    )
    return {r.household_id: int(r.members) for r in rows}


def _outcome(world: World, state: str | None, pick: Callable[[bool], str]) -> tuple[str, float, str | None]:
    """A door's outcome: a household that needs help is helped out by whoever holds its case (issue 17); a
    nobody-home door revisited draws from `revisit_outcomes` (a neighbour's word gives `moved`, away)."""
    now = world.clock.now()
    if state == "needs_help":
        return "reached", now, "helped out / 已帮扶转移"
    if state == "nobody_home":
        result = pick(False)
        return result, now, ("neighbour: away / 邻居告知外出" if result == "moved" else None)
    return pick(True), now, None
