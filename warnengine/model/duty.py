"""The duty roster (值班表): who holds which post (A岗, B岗, deputy) of a cell, from when to when.

A shift is a half-open interval [start, end) of engine time (epoch seconds); the roster file writes it in
the county's time zone. `DutyBoard` answers "who is on duty in this cell now", post A first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from warnengine.model.grid import Role


class Post(StrEnum):
    A = "A"  # A岗: the one called first
    B = "B"  # B岗: when A stays silent
    DEPUTY = "deputy"  # 副职 / 带班: when both stay silent

    @property
    def order(self) -> int:
        return _ORDER[self]


_ORDER = {Post.A: 0, Post.B: 1, Post.DEPUTY: 2}


@dataclass(frozen=True)
class Shift:
    cell_code: str
    role: Role
    post: Post
    person_id: str
    start: float  # epoch seconds, inclusive
    end: float  # epoch seconds, exclusive

    def covers(self, at: float) -> bool:
        return self.start <= at < self.end


class DutyBoard:
    """The shifts of a roster, by cell. `rostered` holds every cell the roster names at all (at any time):
    such a cell with nobody on duty right now is a duty gap; a cell the roster never names is not."""

    def __init__(self, shifts: Iterable[Shift], rostered: Iterable[str] | None = None) -> None:
        self.by_cell: dict[str, list[Shift]] = {}
        for s in shifts:
            self.by_cell.setdefault(s.cell_code, []).append(s)
        for mine in self.by_cell.values():
            mine.sort(key=lambda s: (s.post.order, s.role.value, s.start, s.person_id))
        self.rostered: set[str] = set(self.by_cell) | set(rostered or ())

    def on_duty(self, cell: str, at: float, role: Role | None = None) -> list[Shift]:
        """The shifts of `cell` covering `at`, post A first (then B, deputy); of `role` if given."""
        return [s for s in self.by_cell.get(cell, ()) if s.covers(at) and (role is None or s.role is role)]

    def holders(self, cell: str, at: float) -> dict[str, list[str]]:
        """Post → the people holding it in `cell` at `at` (one per role)."""
        out: dict[str, list[str]] = {}
        for s in self.on_duty(cell, at):
            out.setdefault(s.post.value, []).append(s.person_id)
        return out

    def gaps(self, at: float) -> list[str]:
        """Rostered cells with nobody on duty at `at`."""
        return sorted(c for c in self.rostered if not self.on_duty(c, at))
