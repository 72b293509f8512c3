"""Upward reports (上报), run by the leader on the escalation timer: nobody has to ask how it is going.

At the rule's `report_at_min` after release (10, 30, 60), then every `report_every_min` (hourly) until the
warning is closed, each township the warning reaches and the county get a short progress report: villages
reached, households reached %, vulnerable households still open, households on an unfinished visit, staff
not answering their 叫应 with the calls made. When the warning is closed (Cancel, or expired) they get the
closure report's numbers instead. Each goes to everyone on duty in the cell now (escalate/duty.py; nobody on
duty: the cell's dispatchers, else its grid heads from the directory) on their message channels.

Idempotent: a report is one row per warning × cell × kind × due minute, written after its deliveries were
planned under stable ids (its step: REPORT_STEP + the slot's number, or CLOSURE_STEP), so a crash between
the two plans the same rows again and sends nothing twice. After an outage only the latest due slot goes
out: an operator woken by four stale reports at once reads none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from warnengine.clock import Clock
from warnengine.escalate.duty import OnDuty, Target
from warnengine.escalate.rows import _best, _rows
from warnengine.model import Channel, HazardWarning, Level, Role, Status, steps
from warnengine.model.duty import DutyBoard
from warnengine.model.records import ProgressRows, ReportChain
from warnengine.obs import metrics
from warnengine.plan.plan import address
from warnengine.plan.policy import DisseminationPolicy, Rule
from warnengine.resolve.directory import Directory

log = structlog.get_logger("warnengine.escalate")

REPORT_STEP = steps.REPORT.start  # the k-th progress slot's deliveries are step REPORT_STEP + k
CLOSURE_STEP = steps.CLOSURE.start  # the closure report's (model/steps.py: the table of step numbers)
CLOSED_LOOKBACK_S = 24 * 3600.0  # a chain closed longer ago than this gets no closure report
MESSAGE = (Channel.SMS, Channel.WECHAT, Channel.APP)  # a report is read, not listened to

EmitVillage = Callable[[str, int, str], Awaitable[None]]


class UpwardStore(Protocol):
    """What upward reports read and write: `warnengine.db.store.Store` is one."""

    @property
    def clock(self) -> Clock: ...

    async def duty_board(self, at: float) -> DutyBoard: ...

    async def report_chains(self, now: float, since: float) -> list[ReportChain]: ...

    async def progress_rows(self, warning_id: str) -> ProgressRows: ...

    async def upward_sent(self, warning_id: str) -> set[tuple[str, str, int]]: ...

    async def record_upward(self, rows: Sequence[dict[str, Any]]) -> None: ...

    async def save_plan(
        self, deliveries: Sequence[tuple[Any, ...]], households: Sequence[tuple[Any, ...]]
    ) -> None: ...


@dataclass(frozen=True)
class Progress:
    """One cell's numbers."""

    villages: int
    villages_reached: int  # a household reached, or a loudspeaker played
    households: int
    reached: int
    vulnerable_open: int
    visits_open: int
    silent: dict[str, int]  # staff not answering → calls made about them
    orgs: int = 0  # schools, enterprises… the warning targets under the cell (issue 17)
    orgs_reached: int = 0  # a responsible person acknowledged
    orgs_headcount: int = 0
    orgs_headcount_reached: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.reached / self.households if self.households else 100.0


def due_slot(rule: Rule, elapsed_min: float) -> tuple[int, int] | None:
    """The latest report slot due `elapsed_min` after release: (its number, its minute), or None."""
    marks = [int(m) for m in rule.report_at_min if m <= elapsed_min]
    last = max(rule.report_at_min, default=0.0)
    if rule.report_every_min > 0 and elapsed_min >= last + rule.report_every_min:
        k = int((elapsed_min - last) // rule.report_every_min)
        return len(rule.report_at_min) + k - 1, int(last + k * rule.report_every_min)
    return (len(marks) - 1, marks[-1]) if marks else None


async def report_upward(
    store: UpwardStore, directory: Directory, policy: DisseminationPolicy, emit: EmitVillage, tz: ZoneInfo
) -> list[str]:
    """One sweep: every report due now and not sent yet. Returns them as `warning:cell:kind:minute`."""
    now = store.clock.now()
    duty = OnDuty(directory, await store.duty_board(now), now)
    out: list[str] = []
    for chain in await store.report_chains(now, now - CLOSED_LOOKBACK_S):
        w = chain.warning
        rule = policy.rule_for(w.hazard, w.severity, w.event)
        if not rule.report_upward:
            continue
        if chain.closed:
            kind, slot = "closure", (-1, 0)  # slot -1: the closure report (its own step)
        elif (due := due_slot(rule, (now - chain.released_at) / 60)) is not None:
            kind, slot = "progress", due
        else:
            continue
        with structlog.contextvars.bound_contextvars(warning_id=w.warning_id, version=w.version):
            out += await _report(store, duty, w, rule, kind, slot, tz, emit)
    return out


async def _report(
    store: UpwardStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    kind: str,
    slot: tuple[int, int],
    tz: ZoneInfo,
    emit: EmitVillage,
) -> list[str]:
    sent = await store.upward_sent(w.warning_id)
    # One transaction records a slot's reports for every cell: any of them recorded means all went out,
    # and the sweep that runs every 15 s between due minutes costs one small query, not a count.
    if any(k == kind and m == slot[1] for _, k, m in sent):
        return []
    data = await store.progress_rows(w.warning_id)
    cells = report_cells(duty.directory, {v for v, _, _ in data.households} | data.played)
    todo = [c for c in cells if (c, kind, slot[1]) not in sent]
    if not todo:
        return []
    now = duty.at
    step = CLOSURE_STEP if kind == "closure" else steps.REPORT.at(slot[0])
    rows: list[tuple[object, ...]] = []
    records: list[dict[str, Any]] = []
    for cell in todo:
        text = report_text(
            duty.directory, w, kind, slot[1], progress(duty.directory, data, cell), cell, now, tz
        )
        people = _recipients(duty, cell)
        if w.status in (Status.EXERCISE, Status.TEST):  # a drill reaches only those who opted in
            people = [x for x in people if x.contact.drill_opt_in]
        for target in people:
            c = target.contact
            # The rule's message channels the person has, else their best one: a report is read, not heard.
            mine = tuple(ch for ch in rule.person_channels if ch in MESSAGE and address(c, ch))
            rows += _rows(_lasting(w), c, mine or _best(c), step, cell[:12], None, text, now)
        if not people:
            log.warning("upward_report_nobody", cell=cell, kind=kind)
        records.append(_record(w, cell, kind, slot[1], len(people), text, now))
    # Deliveries first (stable ids, kept if there): a crash before the record plans the same rows again.
    await store.save_plan(rows, [])
    await store.record_upward(records)
    for cell in sorted({str(r[3]) for r in rows}):
        await emit(w.warning_id, w.version, cell)
    metrics.UPWARD_REPORTS.labels(kind).inc(len(records))
    log.info("upward_reports", kind=kind, minute=slot[1], cells=todo, deliveries=len(rows))
    return [f"{w.warning_id}:{c}:{kind}:{slot[1]}" for c in todo]


def _lasting(w: HazardWarning) -> HazardWarning:
    """The warning without its expiry: a report is planned to last six hours (escalate/rows.py), so the
    closure report of an expired warning still goes out."""
    return w.model_copy(update={"expires": None})


def _record(
    w: HazardWarning, cell: str, kind: str, minute: int, persons: int, text: str, now: float
) -> dict[str, Any]:
    return {
        "warning_id": w.warning_id,
        "cell_code": cell,
        "kind": kind,
        "due_min": minute,
        "version": w.version,
        "persons": persons,
        "text": text,
        "sent_at": now,
    }


def _recipients(duty: OnDuty, cell: str) -> list[Target]:
    """Everyone on duty in the cell now; nobody: its dispatchers, else its grid heads (the directory)."""
    return duty.holders(cell, Role.DISPATCHER) or duty.holders(cell, Role.GRID_HEAD)


def report_cells(directory: Directory, villages: set[str]) -> list[str]:
    """The townships above the warning's villages, then the county (the top cell above them)."""
    townships: set[str] = set()
    counties: set[str] = set()
    for v in villages:
        for code in directory.above(v):
            cell = directory.cells.get(code)
            if cell is not None and cell.level is Level.TOWNSHIP:
                townships.add(code)
            elif cell is not None and cell.level is Level.COUNTY:
                counties.add(code)
    return [*sorted(townships), *sorted(counties)]


def progress(directory: Directory, data: ProgressRows, cell: str) -> Progress:
    """The numbers of the warning's households and staff under `cell`."""
    under: dict[str, bool] = {}

    def within(code: str) -> bool:
        if code not in under:
            under[code] = cell in directory.above(code)
        return under[code]

    homes = [h for h in data.households if within(h[0])]
    villages = {v for v, _, _ in homes} | {v for v in data.played if within(v)}
    reached_villages = {v for v, state, _ in homes if state == "reached"} | {
        v for v in data.played if within(v)
    }
    orgs = [(state, n) for v, state, n in data.orgs if within(v)]
    people = directory.contacts()
    silent = {
        pid: n
        for pid, n in data.silent_staff.items()
        if (p := people.get(pid)) is not None and within(p.cell_code)
    }
    return Progress(
        villages=len(villages),
        villages_reached=len(reached_villages),
        households=len(homes),
        reached=sum(1 for _, state, _ in homes if state == "reached"),
        vulnerable_open=sum(1 for _, state, vul in homes if vul and state not in ("reached", "unreachable")),
        visits_open=sum(n for v, n in data.visits_open.items() if within(v)),
        silent=silent,
        orgs=len(orgs),
        orgs_reached=sum(1 for state, _ in orgs if state == "reached"),
        orgs_headcount=sum(n for _, n in orgs),
        orgs_headcount_reached=sum(n for state, n in orgs if state == "reached"),
    )


def report_text(
    directory: Directory,
    w: HazardWarning,
    kind: str,
    minute: int,
    p: Progress,
    cell: str,
    now: float,
    tz: ZoneInfo,
) -> str:
    """The report, short enough for two SMS: Chinese first, the English numbers beside."""
    info = directory.cells.get(cell)
    where = info.name if info else cell
    drill = "【演练】" if w.status in (Status.EXERCISE, Status.TEST) else ""
    at = datetime.fromtimestamp(now, tz).strftime("%H:%M")
    title = w.headline or w.event
    silent = "、".join(f"{pid}（叫应{n}次）" for pid, n in sorted(p.silent.items())[:5]) or "无"
    more = f"等{len(p.silent)}人" if len(p.silent) > 5 else ""
    numbers = (
        f"村 {p.villages_reached}/{p.villages} 已覆盖，到户 {p.reached}/{p.households}（{p.percent:.0f}%），"
        f"脆弱户未到 {p.vulnerable_open} 户，入户待核 {p.visits_open} 户，叫应未应答：{silent}{more}。"
    )
    english = (
        f"villages {p.villages_reached}/{p.villages}, households {p.percent:.0f}%, vulnerable open "
        f"{p.vulnerable_open}, visits open {p.visits_open}, staff not answering {len(p.silent)}"
    )
    if p.orgs:  # only where the warning targets orgs: a report is two SMS at most
        numbers += (
            f"单位 {p.orgs_reached}/{p.orgs} 已回复（人数 {p.orgs_headcount_reached}/{p.orgs_headcount}）。"
        )
        english += (
            f", orgs {p.orgs_reached}/{p.orgs} reached (headcount {p.orgs_headcount_reached}/"
            f"{p.orgs_headcount})"
        )
    if kind == "closure":
        return (
            f"{drill}【闭环报告 / closure】{title} 已结束（{at}）{where}：{numbers}"
            f"详见控制台闭环报告（可下载 xlsx）。Closed: {english}."
        )
    return (
        f"{drill}【预警进展 {minute}分钟 / progress】{title} {where} 截至{at}：{numbers}Progress: {english}."
    )
