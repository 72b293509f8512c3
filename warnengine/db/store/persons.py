"""Person accounting (到人, issue 17): who of each targeted household is accounted for, and when.

A person is accounted for when they acknowledged (their own delivery), when a visitor named them or counted
them in a headcount, or when recorded evacuated or away. A household's accounted persons are
min(members, max(named, largest count)) — see db/persons_tables.py — and a household is `reached` only when
all its members are accounted for (the ack path, a visit, an evacuation outcome; a played loudspeaker is
the one exception, where the policy says so: it closes the household, its persons stay unaccounted with
the reason `loudspeaker_only`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from warnengine.db import persons_tables as pt
from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks

COUNT = "count:"  # person_key prefix of a count row (headcount, evacuated, away)
# Why a person is not accounted for, from their household's state (operator text: docs/escalation.md).
REASONS = (
    "no_answer",  # no ack of theirs, no visit yet
    "nobody_home",  # not at home at the visit (or only part of the household was): revisit due
    "needs_help",  # the household needs help: open, with the village grid head
    "whereabouts_unknown",  # nobody home twice
    "unreachable",  # named unreachable with another reason
    "loudspeaker_only",  # the household counts as reached by a played loudspeaker; no one confirmed
)


def named_rows(
    warning_id: str, household_id: str, person_ids: Sequence[str], how: str, at: float, by: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "warning_id": warning_id,
            "household_id": household_id,
            "person_key": p,
            "persons": 1,
            "how": how,
            "at": at,
            "by": by,
        }
        for p in person_ids
    ]


def count_row(
    warning_id: str, household_id: str, persons: int, how: str, at: float, by: str | None
) -> dict[str, Any]:
    return {
        "warning_id": warning_id,
        "household_id": household_id,
        "person_key": COUNT + how,
        "persons": persons,
        "how": how,
        "at": at,
        "by": by,
    }


async def add_accounts(conn: AsyncConnection, pg: bool, rows: Sequence[dict[str, Any]]) -> None:
    """Named persons once (the first evidence stays); a count row keeps its largest count (a smaller
    headcount later accounts nobody less)."""
    if not rows:
        return
    table, c = pt.person_accounts, pt.person_accounts.c
    named = [r for r in rows if not str(r["person_key"]).startswith(COUNT)]
    counts = [r for r in rows if str(r["person_key"]).startswith(COUNT)]
    ins = postgresql.insert(table) if pg else sqlite.insert(table)
    for chunk in chunks(named):
        await conn.execute(ins.on_conflict_do_nothing(), list(chunk))
    if counts:
        grow = ins.excluded.persons > c.persons
        stmt = ins.on_conflict_do_update(
            index_elements=["warning_id", "household_id", "person_key"],
            set_={
                "persons": case((grow, ins.excluded.persons), else_=c.persons),
                "at": case((grow, ins.excluded.at), else_=c.at),
                "by": case((grow, ins.excluded.by), else_=c.by),
            },
        )
        for row in counts:  # one by one: a batch may name the same household twice
            await conn.execute(stmt, [row])


def _named_and_counted() -> Any:
    """Per household of a warning (bind `wid`): named persons and the largest count."""
    c = pt.person_accounts.c
    is_count = c.person_key.like(COUNT + "%")
    return (
        select(
            c.household_id.label("hid"),
            func.sum(case((is_count, 0), else_=c.persons)).label("named"),
            func.max(case((is_count, c.persons), else_=0)).label("counted"),
        )
        .where(c.warning_id == literal_wid())
        .group_by(c.household_id)
    )


def literal_wid() -> Any:
    """The warning id of a query that is given as the parameter `wid`."""
    return bindparam("wid")


def _accounted(members: Any, named: Any, counted: Any) -> Any:
    best = case((named > counted, named), else_=counted)
    return case((members < best, members), else_=best)


async def accounted_of(
    conn: AsyncConnection, warning_id: str, household_ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """household → (members, accounted) for the given households of the warning."""
    h = t.households.c
    out: dict[str, tuple[int, int]] = {}
    ids = sorted(set(household_ids))
    for chunk in chunks(ids):
        members = {
            r.household_id: int(r.members)
            for r in await conn.execute(select(h.household_id, h.members).where(h.household_id.in_(chunk)))
        }
        got = _named_and_counted().where(pt.person_accounts.c.household_id.in_(chunk)).subquery()
        have = {
            r.hid: (int(r.named or 0), int(r.counted or 0))
            for r in await conn.execute(select(got), {"wid": warning_id})
        }
        for hid in chunk:
            n = members.get(hid)
            named, counted = have.get(hid, (0, 0))
            if n is None:  # no longer in the register: what is known is all there is
                n = max(named, counted)
            out[hid] = (n, min(n, max(named, counted)))
    return out


async def close_accounted(
    conn: AsyncConnection,
    warning_id: str,
    household_ids: Sequence[str],
    reached_by: str,
    evidence: str,
    at: float,
) -> list[str]:
    """Households among these whose every member is accounted for, now reached (the ones that were not)."""
    done = [hid for hid, (n, a) in (await accounted_of(conn, warning_id, household_ids)).items() if a >= n]
    wh = t.warning_households.c
    for chunk in chunks(done):
        await conn.execute(
            update(t.warning_households)
            .where(wh.warning_id == warning_id, wh.household_id.in_(chunk), wh.state != "reached")
            .values(
                state="reached",
                reached_by=reached_by,
                evidence=evidence,
                reached_at=at,
                reason=None,
                updated_at=at,
            )
        )
    return done


def _reason() -> Any:
    wh = t.warning_households.c
    return case(
        (
            wh.state == "reached",
            case((wh.reached_by == "loudspeaker", "loudspeaker_only"), else_="no_answer"),
        ),
        (wh.state == "needs_help", "needs_help"),
        (wh.state == "nobody_home", "nobody_home"),
        (and_(wh.state == "unreachable", wh.reason.like("whereabouts%")), "whereabouts_unknown"),
        (wh.state == "unreachable", "unreachable"),
        else_="no_answer",
    )


class PersonQueries(StoreBase):
    async def account_persons(self, rows: Sequence[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await add_accounts(conn, self._pg, rows)

    async def household_people(self, household_id: str) -> tuple[int, list[str]] | None:
        """(members, named person ids) of a household of the register; None: no such household."""
        h, p = t.households.c, t.people.c
        async with self.engine.connect() as conn:
            members = (
                await conn.execute(select(h.members).where(h.household_id == household_id))
            ).scalar_one_or_none()
            if members is None:
                return None
            named = [
                r[0] for r in await conn.execute(select(p.person_id).where(p.household_id == household_id))
            ]
        return int(members), sorted(named)

    async def accounted_person_ids(self, warning_id: str) -> set[str]:
        """Named persons accounted for in the warning (the ladder sends them no more resends)."""
        c = pt.person_accounts.c
        async with self.engine.connect() as conn:
            res = await conn.execute(
                select(c.person_key).where(c.warning_id == warning_id, c.person_key.not_like(COUNT + "%"))
            )
            return {r[0] for r in res}

    async def persons_tally(self, warning_id: str) -> dict[str, Any]:
        """persons (household sizes of the targeted households), persons_accounted, and
        persons_unaccounted by reason (REASONS; only reasons with someone in them)."""
        wh, h = t.warning_households.c, t.households.c
        got = _named_and_counted().subquery()
        members = h.members
        acc = _accounted(members, func.coalesce(got.c.named, 0), func.coalesce(got.c.counted, 0))
        reason = _reason().label("reason")
        query = (
            select(reason, func.sum(members).label("n"), func.sum(acc).label("a"))
            .select_from(
                t.warning_households.join(t.households, h.household_id == wh.household_id).outerjoin(
                    got, got.c.hid == wh.household_id
                )
            )
            .where(wh.warning_id == literal_wid())
            .group_by(reason)
        )
        total = accounted = 0
        missing: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for r in await conn.execute(query, {"wid": warning_id}):
                n, a = int(r.n or 0), int(r.a or 0)
                total, accounted = total + n, accounted + a
                if n > a:
                    missing[str(r.reason)] = missing.get(str(r.reason), 0) + n - a
        return {
            "persons": total,
            "persons_accounted": accounted,
            "persons_unaccounted": {k: missing[k] for k in REASONS if k in missing},
        }

    async def accounted_timeline(self, warning_id: str) -> list[tuple[float, int, bool, str]]:
        """Each increase of a household's accounted persons: (when, by how many, vulnerable, household)."""
        wh, h, c = t.warning_households.c, t.households.c, pt.person_accounts.c
        async with self.engine.connect() as conn:
            homes = {
                r.household_id: (int(r.members), bool(r.vulnerable))
                for r in await conn.execute(
                    select(wh.household_id, wh.vulnerable, h.members)
                    .join_from(t.warning_households, t.households, h.household_id == wh.household_id)
                    .where(wh.warning_id == warning_id)
                )
            }
            rows = (
                await conn.execute(
                    select(c.household_id, c.person_key, c.persons, c.at)
                    .where(c.warning_id == warning_id)
                    .order_by(c.household_id, c.at)
                )
            ).all()
        out: list[tuple[float, int, bool, str]] = []
        state: dict[str, tuple[int, int, int]] = {}  # household → (named, counted, accounted)
        for r in rows:
            if r.household_id not in homes:
                continue
            n, vul = homes[r.household_id]
            named, counted, before = state.get(r.household_id, (0, 0, 0))
            if str(r.person_key).startswith(COUNT):
                counted = max(counted, int(r.persons))
            else:
                named += int(r.persons)
            now = min(n, max(named, counted))
            state[r.household_id] = (named, counted, now)
            if now > before:
                out.append((float(r.at), now - before, vul, r.household_id))
        return out

    async def visit_people(
        self, warning_id: str, household_ids: Sequence[str]
    ) -> dict[str, tuple[int, int, list[tuple[str, str, bool]]]]:
        """For visit lists: household → (members, accounted, [(person id, name, accounted by name)])."""
        p, c = t.people.c, pt.person_accounts.c
        out: dict[str, tuple[int, int, list[tuple[str, str, bool]]]] = {}
        async with self.engine.connect() as conn:
            sizes = await accounted_of(conn, warning_id, household_ids)
            for chunk in chunks(sorted(set(household_ids))):
                named = {
                    r[0]
                    for r in await conn.execute(
                        select(c.person_key).where(c.warning_id == warning_id, c.household_id.in_(chunk))
                    )
                }
                people: dict[str, list[tuple[str, str, bool]]] = {}
                for r in await conn.execute(
                    select(p.household_id, p.person_id, p.name)
                    .where(p.household_id.in_(chunk))
                    .order_by(p.household_id, p.person_id)
                ):
                    people.setdefault(r.household_id, []).append((r.person_id, r.name, r.person_id in named))
                for hid in chunk:
                    n, a = sizes[hid]
                    out[hid] = (n, a, people.get(hid, []))
        return out
