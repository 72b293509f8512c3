"""One answer for the household (到人): "收到，全家" accounts for every member, "收到 2人" for two, a bare
"3人" for nobody (to the inbox); the household is reached once all are accounted for."""

from __future__ import annotations

from tests.acks.test_replies import flood, one, plan, reply, sms_of
from tests.plan.conftest import directory_of
from warnengine.acks.people import apply_channel_events
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.resolve.directory import Directory


async def household_of_three(store: Store, county: County) -> tuple[Directory, str, str, str, int]:
    """The directory imported; (directory, household id, its village, a member's phone, members) of a
    household of at least three with a member who has a phone."""
    await store.import_directory(county.cells, county.households, county.people, county.devices, [])
    for h in county.households:
        phones = [p.phone for p in county.people if p.household_id == h.household_id and p.phone]
        if h.members >= 3 and phones:
            return directory_of(county), h.household_id, h.cell_code[:12], phones[0], h.members
    raise AssertionError("the sample county has no household of three with a phone")


async def test_a_count_accounts_for_that_many_and_全家_for_everyone(
    store: Store, small_county: County
) -> None:
    directory, home, village, phone, members = await household_of_three(store, small_county)
    w = flood("w-home", village)
    await plan(store, directory, w)

    # A bare count is not an answer: nothing acknowledged, the text goes to the inbox.
    counts = await apply_channel_events([reply(phone, 1.0, "3人")], store, directory)
    assert counts.get("acknowledged", 0) == 0 and counts["replies_to_inbox"] == 1

    # Two of the household: the sender's delivery acknowledged, the household still open.
    counts = await apply_channel_events([reply(phone, 2.0, "收到 2人")], store, directory)
    assert counts["acknowledged"] == 1 and counts["reply_acknowledged"] == 1
    assert counts["reply_household_counts"] == 1
    row = await one(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert row["state"] != "reached"
    assert (await store.persons_tally(w.warning_id))["persons_accounted"] == 2

    # "全家" after the sender's own answer still counts: the household is reached at that answer.
    counts = await apply_channel_events([reply(phone, 5.0, "全家都收到了")], store, directory)
    assert counts.get("acknowledged", 0) == 0
    row = await one(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert row["state"] == "reached" and row["reached_at"] == 5.0
    assert row["evidence"] in {d["delivery_id"] for d in await sms_of(store, w.warning_id)}
    assert (await store.persons_tally(w.warning_id))["persons_accounted"] == members


async def test_a_count_larger_than_the_household_counts_its_members(
    store: Store, small_county: County
) -> None:
    directory, home, village, phone, members = await household_of_three(store, small_county)
    w = flood("w-big", village)
    await plan(store, directory, w)
    await apply_channel_events([reply(phone, 2.0, "收到，全家20人")], store, directory)
    row = await one(store, t.warning_households, warning_id=w.warning_id, household_id=home)
    assert row["state"] == "reached" and row["reached_at"] == 2.0
    # Its members, not 20; nobody else in the village.
    assert (await store.persons_tally(w.warning_id))["persons_accounted"] == members
