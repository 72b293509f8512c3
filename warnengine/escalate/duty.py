"""Who the ladder calls: the person on duty at that moment (值班表), else the directory.

`OnDuty` answers for one sweep (the roster as of its clock): a cell's on-duty people, post A first, then
B, then the deputy; a cell the roster names but nobody holds now is a duty gap, counted, and falls back to
the directory's grid staff, as does a cell the roster never names.

The 叫应 ladder (`call_on_duty`): staff silent past the rule's `staff_ack_min` → a call to the first on
their chain (their cell's duty when they are not its head, then each cell above: its duty A, B, deputy,
or, with nobody on duty, its grid head). A call unanswered for another `staff_ack_min` → the next on the
chain, worked out again at that moment, so a shift that changed in between sends it to the new holder.
It stops the moment the silent person or anyone called about them acknowledges a 叫应.

By phone (the rule's `duty_voice_calls` > 0, `repeat_calls`): each one on the chain is called that many
times within `duty_call_window_min` (three calls in five minutes) before the next post is; pressing 1 on
any of the calls (or any other acknowledgement of a 叫应) stops the chain.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

import structlog

from warnengine.model import Level, Role
from warnengine.model.duty import DutyBoard
from warnengine.model.records import DutyCall
from warnengine.obs import metrics
from warnengine.resolve.directory import Contact, Directory

log = structlog.get_logger("warnengine.escalate")


@dataclass(frozen=True)
class Target:
    contact: Contact
    cell_code: str
    post: str | None  # None: from the directory (nobody on duty in the cell)


@dataclass
class OnDuty:
    directory: Directory
    board: DutyBoard
    at: float
    gaps: set[str] = field(default_factory=set)  # rostered cells met with nobody on duty

    def holders(self, cell: str, role: Role | None = None, skip: Set[str] = frozenset()) -> list[Target]:
        """The cell's on-duty people (post A, B, deputy; within a post, `role` first), less `skip`.
        Nobody on duty: the directory's staff of `role` (grid head if None), and a gap if rostered."""
        people = self.directory.contacts()
        shifts = self.board.on_duty(cell, self.at)
        if shifts:
            shifts = sorted(shifts, key=lambda s: (s.post.order, s.role is not role))
            out: dict[str, Target] = {}
            for s in shifts:
                who = people.get(s.person_id)
                if who is not None and s.person_id not in skip:
                    out.setdefault(s.person_id, Target(who, cell, s.post.value))
            return list(out.values())
        if cell in self.board.rostered and cell not in self.gaps:
            self.gaps.add(cell)
            metrics.DUTY_FALLBACKS.inc()
            log.warning("duty_gap", cell=cell)
        want = role or Role.GRID_HEAD
        return [
            Target(s, cell, None)
            for s in self.directory.staff.get(cell, [])
            if s.role is want and s.person_id not in skip
        ]

    def first(self, cell: str, role: Role, skip: Set[str] = frozenset()) -> Contact | None:
        """Whom a cell's work for `role` goes to now: its first on-duty person, else the directory's."""
        found = self.holders(cell, role, skip)
        return found[0].contact if found else None

    def chain(self, person: Contact) -> list[Target]:
        """Everyone a silent person's 叫应 may go to, in order: their own cell's duty (unless they head
        it, or it is a group), then each cell above."""
        cells = self.directory.above(person.cell_code)
        own = self.directory.cells.get(person.cell_code)
        start = 1
        if own is not None and own.level is not Level.GROUP and person.role is not Role.GRID_HEAD:
            start = 0
        out: dict[str, Target] = {}
        for cell in cells[start:]:
            for target in self.holders(cell, Role.GRID_HEAD, {person.person_id}):
                out.setdefault(target.contact.person_id, target)
        return list(out.values())


def next_calls(
    duty: OnDuty, calls: list[DutyCall], window_s: float
) -> list[tuple[Contact, Target, int, list[DutyCall]]]:
    """The 叫应 due now on chains already started (`calls`: all of the warning's): (silent person, next
    target, rung, calls so far), for chains whose last call is `window_s` old. Whether anyone answered is
    the caller's to check."""
    by_person: dict[str, list[DutyCall]] = {}
    for c in calls:
        by_person.setdefault(c.person_id, []).append(c)
    people = duty.directory.contacts()
    due: list[tuple[Contact, Target, int, list[DutyCall]]] = []
    for pid, mine in sorted(by_person.items()):
        last = max(mine, key=lambda c: c.rung)
        person = people.get(pid)
        if person is None or duty.at - last.called_at < window_s:
            continue
        called = {c.target_id for c in mine}
        target = next((x for x in duty.chain(person) if x.contact.person_id not in called), None)
        if target is not None:
            due.append((person, target, last.rung + 1, mine))
    return due


def repeat_calls(
    duty: OnDuty, calls: list[DutyCall], window_s: float, tries: int
) -> list[tuple[Contact, Target, int, list[DutyCall]]]:
    """Phone 叫应 (policy `duty_voice_calls`): the last one called on each chain is called again, up to
    `tries` calls spread over `window_s` (three in five minutes: at 0, 100 and 200 s), until the window is
    over and `next_calls` moves on. Whether anyone answered is the caller's to check."""
    if tries <= 1:
        return []
    gap = window_s / tries
    by_person: dict[str, list[DutyCall]] = {}
    for c in calls:
        by_person.setdefault(c.person_id, []).append(c)
    people = duty.directory.contacts()
    due: list[tuple[Contact, Target, int, list[DutyCall]]] = []
    for pid, mine in sorted(by_person.items()):
        last = max(mine, key=lambda c: c.rung)
        person, target = people.get(pid), people.get(last.target_id)
        if person is None or target is None or last.tries >= tries:
            continue
        if duty.at - last.called_at >= window_s or duty.at - (last.last_called_at or last.called_at) < gap:
            continue
        due.append((person, Target(target, last.cell_code, last.post), last.rung, mine))
    return due
