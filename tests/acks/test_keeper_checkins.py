"""Shelter keepers check people in by SMS reply (issue 17), against the real record: "到 H123 3" from the
keeper's phone is a check-in at the keeper's shelter under the evacuation under way; a second check-in,
an unknown household, an unreadable check-in go to the inbox with the reason, never counted twice, never
dropped; the same webhook delivered again changes nothing; others' messages are ordinary replies."""

from __future__ import annotations

from tests.acks.test_replies import reply
from tests.escalate.test_evacuation import with_point_and_shelters
from tests.escalate.test_ladder import start
from warnengine.acks.checkins import Parsed, parse_check_in
from warnengine.acks.people import apply_channel_events
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.model import Role
from warnengine.model.field_report import ReportKind


def test_parse_check_in() -> None:
    assert parse_check_in("到 H123 3") == Parsed("H123", 3)
    assert parse_check_in("入住 H123 3人") == Parsed("H123", 3)
    assert parse_check_in("登记：p0042") == Parsed("p0042", None)
    assert parse_check_in("到Ｈ１２３，２人。") == Parsed("H123", 2)  # full-width, as phones type it
    assert parse_check_in("到 H123 三人") == "unreadable"
    assert parse_check_in("到") == "unreadable"
    assert parse_check_in("到了吗") is None and parse_check_in("安置点缺水") is None


async def test_keeper_sms_check_ins(store: Store, small_county: County) -> None:
    county, threatened = with_point_and_shelters(small_county)
    village = county.shelters[0].cell_code
    keeper = next(
        p for p in county.people if p.role is Role.GRID_MEMBER and p.phone and p.cell_code == village
    )
    county.shelters[0] = county.shelters[0].model_copy(update={"keeper_person_id": keeper.person_id})
    lad = await start(store, county)
    await store.import_directory([], [], [], [], shelters=county.shelters)
    lad.clock.advance(60)
    await lad.sweep()  # the evacuation is ordered
    wid, phone, t = lad.w.warning_id, str(keeper.phone), lad.clock.now()
    one, two = threatened[:2]
    person = next(p for p in county.people if p.household_id == two)
    stranger = next(p for p in county.people if p.phone and p.person_id != keeper.person_id)
    batch = [
        reply(phone, t + 1, f"到 {one} 3"),
        reply(phone, t + 2, f"到 {person.person_id}"),
        reply(phone, t + 3, f"入住 {one} 2人"),  # the household again: refused, to the inbox
        reply(phone, t + 4, f"到 {two} 4"),  # a headcount of a household checked in person by person
        reply(phone, t + 5, "到 nosuch 2"),
        reply(phone, t + 6, "到 ？？"),
        reply(phone, t + 7, "安置点缺饮用水"),  # not a check-in: an ordinary reply
        reply(str(stranger.phone), t + 8, f"到 {one} 3"),  # not a keeper: an ordinary reply
    ]
    counts = await apply_channel_events(batch, store, lad.directory)
    assert counts["checked_in"] == 2 and counts["checkin_refused"] == 4 and counts["replies_to_inbox"] == 2
    assert (await store.checked_in(wid)) == {"S-near": 4}
    assert await store.checkin_of(wid, f"household:{one}") == (f"sms:{keeper.person_id}", t + 1)
    reports = {r.created_at: r for r in await store.field_reports()}
    refused = {at - t: r.text for at, r in reports.items() if "check-in not recorded" in r.text}
    assert sorted(refused) == [3, 4, 5, 6]
    assert "已登记" in refused[3] and "已登记" in refused[4] and "nosuch" in refused[5]
    assert "看不懂" in refused[6]
    assert all(reports[t + k].kind is ReportKind.REPLY for k in (7, 8))
    # The webhook delivers the same batch again: nothing counted twice, no new report.
    again = await apply_channel_events(batch, store, lad.directory)
    assert again["checkin_redelivered"] == 2 and "checked_in" not in again
    assert (await store.checked_in(wid)) == {"S-near": 4} and len(await store.field_reports()) == len(reports)


async def test_point_lead_reply_is_a_point_report(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    lead = next(p for p in small_county.people if p.role is Role.POINT_LEAD and p.phone)
    await apply_channel_events(
        [reply(str(lead.phone), lad.clock.now(), "点位裂缝变宽")], store, lad.directory
    )
    (report,) = await store.field_reports()
    assert report.kind is ReportKind.POINT_REPORT and report.reporter == lead.person_id
