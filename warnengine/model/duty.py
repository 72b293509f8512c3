"""The duty roster (值班表): who holds which post (A岗, B岗, deputy) of a cell, from when to when.

A shift is a half-open interval [start, end) of engine time (epoch seconds); the roster file writes it in
the county's time zone. `DutyBoard` answers "who is on duty in this cell now", post A first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any

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

    def report(self, cells: Iterable[str], at: float, tz: tzinfo) -> dict[str, Any]:
        """Who holds each post of `cells` at `at` (person, role, shift end in `tz`), and the gaps: what
        `warnengine duty now --json` prints and GET /api/v1/duty answers."""
        out: dict[str, dict[str, list[dict[str, str]]]] = {}
        for cell in cells:
            posts: dict[str, list[dict[str, str]]] = {}
            for shift in self.on_duty(cell, at):
                posts.setdefault(shift.post.value, []).append(
                    {"person_id": shift.person_id, "role": shift.role.value, "until": stamp(shift.end, tz)}
                )
            out[cell] = posts
        return {"at": stamp(at, tz), "cells": out, "gaps": [c for c, posts in out.items() if not posts]}


def stamp(at: float, tz: tzinfo) -> str:
    """A time as the county reads it: ISO 8601 to the minute with its offset (2026-06-01T20:00+08:00)."""
    return datetime.fromtimestamp(at, tz).isoformat(timespec="minutes")
