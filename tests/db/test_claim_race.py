"""Claiming attempts, on SQLite and PostgreSQL: of workers claiming the same deliveries at once, each
delivery is claimed by one; a person's message claimed again after an attempt that left no outcome (the
worker died mid-send) is counted as a possible duplicate, one after a recorded failure is not."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.model import Channel
from warnengine.model.records import VillageTarget

PENDING = ("pending",)


async def _flags(store: Store) -> dict[str, int]:
    d = t.deliveries.c
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(d.recipient, d.possible_duplicates))
        return {r.recipient: r.possible_duplicates for r in rows}


async def test_concurrent_claims_take_each_delivery_once(store: Store) -> None:
    now = store.clock.now()
    people = [f"+86138{i:08d}" for i in range(300)]
    target = VillageTarget("w-1", 1, "410526100001", Channel.SMS, people, now + 600)
    due = await store.claim_due([target], 30, 5, states=PENDING, claim=False)
    ids = [d.delivery_id for d in due]
    assert len(ids) == len(people)
    got = await asyncio.gather(*(store.claim(ids, PENDING, 30, 5) for _ in range(4)))
    assert sum(len(g) for g in got) == len(ids), [len(g) for g in got]
    assert set().union(*got) == set(ids)


async def test_a_send_after_an_unknown_outcome_is_flagged(store: Store) -> None:
    now = store.clock.now()
    target = VillageTarget(
        "w-1", 1, "410526100001", Channel.SMS, ["+8613800000001", "+8613800000002"], now + 600
    )
    crashed, failed = sorted(d.delivery_id for d in await store.claim_due([target], 30, 5, states=PENDING))
    await store.finish_dispatch([], {failed: "429 Too Many Requests"}, [])  # a recorded, retryable failure
    store.clock.advance(31)  # type: ignore[attr-defined]
    again = await store.claim_due([target], 30, 5, states=PENDING)
    assert sorted(d.delivery_id for d in again) == [crashed, failed]
    flags = await _flags(store)
    by_id = {d.delivery_id: d.recipient for d in again}
    assert flags[by_id[crashed]] == 1  # its first attempt left no outcome: this send may be a second one
    assert flags[by_id[failed]] == 0  # the provider refused the first: certainly not sent
