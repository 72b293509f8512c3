"""People's deliveries for the fault tests (worker kill, two workers): the warning's SMS go to the Twilio
fake, the API runs as its own process (`warnengine api`, as `up` serves it) with the Twilio webhook
mounted, and residents reply through that webhook, signed as Twilio signs. Checks read the fake's log and
the store."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.integration.conftest import Harness, fresh_pg_database
from tests.integration.test_people_channels import channels_file
from warnengine.db import tables as t
from warnengine.embedded.brokers import free_port, spawn, wait_port

ROOT = Path(__file__).resolve().parents[2]
FROM = "+15005550006"


async def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """running_stack's overrides for the fixture's database parameter ("sqlite" or "postgresql")."""
    if request.param == "postgresql":
        return {"database_url": await fresh_pg_database(request.getfixturevalue("pg_url"))}
    return {}


@dataclass
class SmsWorld:
    twilio: FakeTwilio
    api_url: str
    replied: dict[str, float] = field(default_factory=dict)  # number → when its reply was sent

    def texts_per_number(self) -> Counter[str]:
        return Counter(a.to for a in self.twilio.log)

    async def reply(self, numbers: list[str], text: str = "收到") -> None:
        """Each number answers through the API's Twilio webhook (an inbound SMS, signed by the fake)."""
        for n in numbers:
            status = await self.twilio.inbound(f"{self.api_url}/webhooks/twilio/inbound", n, text, FROM)
            assert status == 200, f"the webhook answered {status}: {self.twilio.callback_failures}"
            self.replied.setdefault(n, len(self.replied))


@contextlib.asynccontextmanager
async def sms_world(h: Harness, tmp_path: Path, rate_per_s: float) -> AsyncIterator[SmsWorld]:
    """Call before starting the workers: they read the channels file and the Twilio account at start."""
    async with FakeTwilio(callbacks=False) as twilio:
        cfg = channels_file(tmp_path / "channels.yaml", twilio.base_url, rate_per_s=rate_per_s)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}"
        h.stack.extra_env.update(
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM=FROM,
            WARNENGINE_CHANNELS_FILE=str(cfg),
            WARNENGINE_PUBLIC_URL=api_url,  # the base Twilio signs webhook URLs with
            WARNENGINE_API_POLICY_FILE=str(ROOT / "config" / "approval.yaml"),
            WARNENGINE_API_TEMPLATES_FILE=str(ROOT / "config" / "warning_templates.yaml"),
        )
        api = spawn(
            [sys.executable, "-m", "warnengine", "api", "--host", "127.0.0.1", "--port", str(port)],
            h.settings.data_dir / "logs" / "api.log",
            env=h.stack.env(),
        )
        try:
            wait_port(port, timeout=60, proc=api)
            yield SmsWorld(twilio, api_url)
        finally:
            api.terminate()
            try:
                api.wait(timeout=15)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()


async def sms_rows(h: Harness, warning_id: str) -> list[dict[str, Any]]:
    return await h.deliveries(warning_id, "sms")


def pick_repliers(world: SmsWorld, rows: list[dict[str, Any]], share: float, seed: int) -> list[str]:
    """About `share` of the residents already texted whose household has not replied yet, one per
    household (a reply reaches its household; a second member's would not move it again)."""
    texted = set(world.texts_per_number())
    done = {r["household_id"] for r in rows if r["recipient"] in world.replied}
    homes: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["recipient"]):
        hid = r["household_id"]
        if hid and hid not in done and r["recipient"] in texted:
            homes.setdefault(hid, r["recipient"])
    chosen = sorted(homes.values())
    return random.Random(seed).sample(chosen, min(len(chosen), max(1, int(len(chosen) * share))))


def assert_each_text_once(world: SmsWorld, rows: list[dict[str, Any]]) -> int:
    """Every SMS delivery got exactly one message in the fake's log (a number with two deliveries — a point
    lead's door list beside their own warning — two), or more only where the store flags the delivery
    (`possible_duplicates`: sent again after an attempt that a kill left without an outcome); nobody else
    got one. Returns the number of extra texts."""
    per_number = world.texts_per_number()
    wanted: dict[str, int] = {}
    flagged: dict[str, int] = {}
    for r in rows:
        wanted[r["recipient"]] = wanted.get(r["recipient"], 0) + 1
        flagged[r["recipient"]] = flagged.get(r["recipient"], 0) + r["possible_duplicates"]
    missing = sorted(n for n, k in wanted.items() if per_number.get(n, 0) < k)
    extra = sorted(set(per_number) - set(wanted))
    unflagged = {
        n: (c, flagged[n]) for n, c in per_number.items() if n in wanted and c > wanted[n] + flagged[n]
    }
    assert not missing, f"{len(missing)} people got fewer SMS than their deliveries, e.g. {missing[:5]}"
    assert not extra, f"{len(extra)} numbers that no delivery is for got SMS, e.g. {extra[:5]}"
    assert not unflagged, (
        f"{len(unflagged)} people got more SMS than the store flags (texts, flagged): "
        f"{dict(list(unflagged.items())[:10])}"
    )
    return sum(c - wanted.get(n, 0) for n, c in per_number.items())


async def households(h: Harness, warning_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    """household id → (state, reached_by, evidence) of the warning's households."""
    wh = t.warning_households.c
    async with h.store.engine.connect() as conn:
        rows = await conn.execute(
            select(wh.household_id, wh.state, wh.reached_by, wh.evidence).where(wh.warning_id == warning_id)
        )
        return {r.household_id: (r.state, r.reached_by, r.evidence) for r in rows}


async def wait_replies_applied(h: Harness, world: SmsWorld, warning_id: str, timeout: float) -> None:
    """Until the delivery of every number that replied is acknowledged."""

    async def applied() -> bool:
        rows = await sms_rows(h, warning_id)
        return all(r["state"] == "acknowledged" for r in rows if r["recipient"] in world.replied)

    await h.wait_for(applied, timeout, f"{len(world.replied)} replies acknowledged")


async def assert_replies_reached_their_households(h: Harness, world: SmsWorld, warning_id: str) -> None:
    """Each reply acknowledged its own delivery and reached its own household, with that delivery as the
    evidence; no other delivery is acknowledged and no other household reached."""
    rows = await sms_rows(h, warning_id)
    acked = {r["recipient"] for r in rows if r["state"] == "acknowledged"}
    assert acked == set(world.replied), (
        f"acknowledged without a reply: {sorted(acked - set(world.replied))[:5]}; "
        f"replied, not acknowledged: {sorted(set(world.replied) - acked)[:5]}"
    )
    by_number = {r["recipient"]: r for r in rows}
    # 到人: each reply accounts for its sender; a household is reached once all its members are, with one
    # of its members' replies as the evidence (tests/escalate/test_persons.py).
    repliers = {by_number[n]["person_id"] for n in world.replied}
    assert repliers <= await h.store.accounted_person_ids(warning_id)
    theirs: dict[str, set[str]] = {}
    for n in world.replied:
        theirs.setdefault(by_number[n]["household_id"], set()).add(by_number[n]["delivery_id"])
    whole = set()
    for hid in theirs:
        people = await h.store.household_people(hid)
        if people is not None and people[0] == len(people[1]) and set(people[1]) <= repliers:
            whole.add(hid)
    homes = await households(h, warning_id)
    reached = {hid: (by, ev) for hid, (state, by, ev) in homes.items() if state == "reached"}
    assert whole <= set(reached) <= set(theirs)
    assert all(by == "sms" and ev in theirs[hid] for hid, (by, ev) in reached.items())
