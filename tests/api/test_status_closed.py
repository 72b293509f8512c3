"""The live status's closed loop (issue 21): a village is green (`closed`) when every household is reached
or named unreachable with the reason, and the warning is `done` when every village is; a household still
waiting is open; a township's own staff (no households, no loudspeakers) never hold a warning open."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update

from tests.api.conftest import Api
from warnengine.db import tables as t
from warnengine.directory import County
from warnengine.model import Area, Hazard, HazardWarning, MsgType, Severity, Status

TOWNSHIP = "410526100000"  # the small county's first township (seed 7)
WID = "w-00000000000000c1"


def _home(village: str, household: str, state: str, reason: str | None) -> dict[str, object]:
    return {
        "warning_id": WID,
        "household_id": household,
        "version": 1,
        "village_code": village,
        "cell_code": village,
        "vulnerable": False,
        "state": state,
        "reason": reason,
        "targeted_at": 0.0,
        "updated_at": 0.0,
    }


async def test_named_households_close_the_loop_staff_cells_do_not_hold_it(
    api: Api, small_county: County
) -> None:
    village = sorted(c.code for c in small_county.cells if c.parent == TOWNSHIP)[0]
    w = HazardWarning(
        warning_id=WID,
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        areas=[Area(codes=[village])],
    )
    await api.store.save_warning(w)
    staff_message = {
        "delivery_id": "d-staff",
        "warning_id": WID,
        "version": 1,
        "village_code": TOWNSHIP,  # a township's own staff: a cell with no household, no loudspeaker
        "channel": "wechat",
        "recipient": "openid-staff",
        "state": "expired",
        "attempts": 1,
        "created_at": 0.0,
        "expires_at": 1.0,
    }
    async with api.store.engine.begin() as conn:
        await conn.execute(
            insert(t.warning_villages),
            [
                {
                    "warning_id": WID,
                    "version": 1,
                    "village_code": village,
                    "state": "dispatched",
                    "updated_at": 0.0,
                }
            ],
        )
        await conn.execute(insert(t.deliveries), [staff_message])
        await conn.execute(
            insert(t.warning_households),
            [
                _home(village, "h1", "reached", None),
                _home(village, "h2", "delivered", None),
            ],
        )
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    (v,) = [x for x in s["villages"] if x["code"] == village]
    assert (v["closed"], s["households_open"], s["done"]) == (False, 1, False)

    wh = t.warning_households.c
    async with api.store.engine.begin() as conn:
        await conn.execute(
            update(t.warning_households)
            .where(wh.household_id == "h2")
            .values(state="unreachable", reason="away / 外出 — confirmed at the visit")
        )
    _, s = await api.call("GET", f"/api/v1/warnings/{WID}/status", "grid")
    (v,) = [x for x in s["villages"] if x["code"] == village]
    assert (v["closed"], v["percent"], s["households_unreachable"]) == (True, 50.0, 1)
    assert (s["households_open"], s["done"]) == (0, True)
    # Named, not reached: still listed with the reason, and the headline stays honest (到户 50 %).
    assert [h["why"] for h in s["open_households"]] == [
        "无法联系 unreachable: away / 外出 — confirmed at the visit"
    ]
    assert s["percent"] == 50.0
