"""A Cancel (解除) tells every person an earlier version messaged for themselves, once each, on the channel
that reached them best; nobody never messaged; planning it again adds nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update

from tests.acks.test_people import RED_SMS, rows
from tests.acks.test_replies import flood, plan
from tests.plan.conftest import directory_of
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import MsgType
from warnengine.plan.plan import person_delivery_id
from warnengine.plan.stage import plan_deliveries


async def mark(store: Store, delivery_ids: list[str], state: str) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.delivery_id.in_(delivery_ids))
            .values(attempts=1, state=state)
        )


async def test_a_cancel_tells_each_person_messaged_once(store: Store, small_county: County) -> None:
    county = small_county
    await store.import_directory(county.cells, county.households, county.people, county.devices, [])
    directory = directory_of(county)
    village = county.households[0].cell_code[:12]
    w = flood("w-cancel", village)
    await plan(store, directory, w)
    sms = sorted(
        (d for d in await rows(store, t.deliveries, warning_id="w-cancel", channel="sms") if d["person_id"]),
        key=lambda d: d["delivery_id"],
    )
    assert len(sms) >= 4
    answered, texted, unsent = sms[0], sms[1:3], sms[3:]
    await mark(store, [answered["delivery_id"]], "acknowledged")
    await mark(store, [d["delivery_id"] for d in texted], "sent")
    # The answered person was also pushed to their app (sent): the channel they answered on wins. The
    # first texted person's push was delivered: better than a text only sent, and cheaper.
    now = store.clock.now()
    pushes = []
    for d, state in ((answered, "sent"), (texted[0], "delivered")):
        did = person_delivery_id("w-cancel", 1, d["person_id"], "app")
        row = (did, "w-cancel", 1, village, "app", "jpush-" + d["person_id"], state, 1, now, now + 3600)
        pushes.append((*row, d["person_id"], d["household_id"], 0, None))
    await store.save_plan(pushes, [])

    cancel = flood("w-cancel", village, MsgType.CANCEL, version=2)
    assert await store.save_warning(cancel) == "cancel"
    assert village in await plan_deliveries(cancel, directory, RED_SMS, store, 3600)
    told = {
        d["person_id"]: d
        for d in await rows(store, t.deliveries, warning_id="w-cancel", version=2)
        if d["channel"] != "loudspeaker"
    }
    assert set(told) == {answered["person_id"], *(d["person_id"] for d in texted)}  # never the unsent
    assert told[answered["person_id"]]["channel"] == "sms"
    assert told[texted[0]["person_id"]]["channel"] == "app"
    assert told[texted[1]["person_id"]]["channel"] == "sms"
    assert told[texted[1]["person_id"]]["recipient"] == texted[1]["recipient"]
    assert all(
        d["state"] == "pending" and d["step"] == 0 and d["household_id"] is None and d["text"] is None
        for d in told.values()
    )
    assert not {d["person_id"] for d in unsent} & set(told)
    # Planning the Cancel again (a redelivery) adds nothing.
    n = len(await rows(store, t.deliveries, warning_id="w-cancel", version=2))
    await plan_deliveries(cancel, directory, RED_SMS, store, 3600)
    assert len(await rows(store, t.deliveries, warning_id="w-cancel", version=2)) == n
