"""Organisations through the escalation ladder (issue 17), against the real record (SQLite and PostgreSQL)
with the clock moved by hand: a silent org's responsible persons get the ladder's resend, then the visit
step's 叫应 while its group leader / the village's grid member is sent to it, then it goes up the grid;
"收到，830名学生留在室内" from the principal marks the school reached with the note as evidence (not a field
report) and removes it from every later step; the closure report (JSON, page, workbook) counts them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from channels.base import ChannelEvent
from tests.escalate.test_ladder import POLICY, red, rows
from tests.plan.org_county import SCHOOL, SITE, principal_of, with_orgs
from warnengine.acks.people import apply_channel_events
from warnengine.clock import ManualClock
from warnengine.db import org_tables as ot
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.escalate.ladder import escalate
from warnengine.model import HazardWarning, Person, Role
from warnengine.plan.stage import plan_deliveries
from warnengine.report.closure import closure_report, to_html
from warnengine.report.xlsx import to_xlsx
from warnengine.resolve.directory import Directory


async def orgs_of(store: Store, wid: str) -> dict[str, dict[str, Any]]:
    return {r["org_id"]: r for r in await rows(store, ot.warning_orgs, warning_id=wid)}


@dataclass
class OrgLadder:
    store: Store
    clock: ManualClock
    county: County
    directory: Directory
    w: HazardWarning
    principal: str
    emitted: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def people(self) -> dict[str, Person]:
        return {p.person_id: p for p in self.county.people}

    async def emit(self, wid: str, v: int, code: str) -> None:
        self.emitted.append((wid, v, code))

    async def sweep_at(self, minutes: float, step: str) -> dict[str, dict[str, Any]]:
        """Move the clock on by `minutes`, sweep, check `step` ran; the orgs' rows after."""
        self.clock.advance(minutes * 60)
        assert f"w-ladder:{step}" in (await escalate(self.store, self.directory, POLICY, self.emit)).steps
        return await orgs_of(self.store, self.w.warning_id)

    async def org_deliveries(self, step: int) -> list[dict[str, Any]]:
        wid = self.w.warning_id
        linked = {r["delivery_id"] for r in await rows(self.store, ot.org_deliveries, warning_id=wid)}
        return [
            d
            for d in await rows(self.store, t.deliveries, warning_id=wid, step=step)
            if d["delivery_id"] in linked
        ]

    async def notices(self, step: int) -> dict[str, str]:
        """Step `step`'s messages to staff about orgs, by person."""
        return {
            d["person_id"]: d["text"]
            for d in await rows(self.store, t.deliveries, warning_id=self.w.warning_id, step=step)
            if d["text"] and "单位" in d["text"] and d["person_id"] != self.principal
        }


async def start(store: Store, small_county: County) -> OrgLadder:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    county = with_orgs(small_county)
    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points, orgs=county.orgs
    )
    directory = await Directory.load(store)
    village = next(o for o in county.orgs if o.org_id == SCHOOL).cell_code[:12]
    w = red(village, clock)
    await store.save_warning(w)
    assert await plan_deliveries(w, directory, POLICY, store, 3600) == [village]
    first = await rows(store, t.deliveries, warning_id=w.warning_id)
    await store.finish_dispatch([d["delivery_id"] for d in first], {}, [])
    return OrgLadder(store, clock, county, directory, w, principal_of(county))


async def resend_visit_escalate(lad: OrgLadder) -> None:
    # Step 1 (5 min): resend to the principal, on the step's channels; the site has nobody to resend to.
    orgs = await lad.sweep_at(6, "1:resend")
    resent = await lad.org_deliveries(1)
    assert resent and {d["person_id"] for d in resent} == {lad.principal}
    assert all(d["text"].startswith("【解放路小学】") for d in resent)
    assert orgs[SCHOOL]["last_step"] == orgs[SITE]["last_step"] == 1
    assert (lad.w.warning_id, 1, orgs[SCHOOL]["village_code"]) in lad.emitted
    # Step 2 (10 min): the principal 叫应'd on their best channel; the school's group leader and the
    # village's grid member are sent to the orgs.
    orgs = await lad.sweep_at(10, "2:visit")
    assert {d["person_id"] for d in await lad.org_deliveries(2)} == {lad.principal}
    sent, people = await lad.notices(2), lad.people
    leader, member = orgs[SCHOOL]["escalated_to"], orgs[SITE]["escalated_to"]
    assert people[leader].role is Role.GROUP_LEADER and people[leader].cell_code == orgs[SCHOOL]["cell_code"]
    assert people[member].role is Role.GRID_MEMBER and people[member].cell_code == orgs[SITE]["cell_code"]
    assert "请即前往" in sent[leader] and "解放路小学（学校，830人）" in sent[leader]
    assert lad.principal in sent[leader]
    assert "滨河路工地（工地，120人）负责人：无负责人记录" in sent[member]
    # Step 3 (45 min): up the grid — the village grid head gets one message naming both.
    orgs = await lad.sweep_at(30, "3:escalate")
    head = orgs[SCHOOL]["escalated_to"]
    assert head == orgs[SITE]["escalated_to"] and people[head].role is Role.GRID_HEAD
    text = (await lad.notices(3))[head]
    assert await lad.org_deliveries(3) == []  # an escalate step goes up, it does not page the silent again
    assert "未回复" in text and "解放路小学" in text and "滨河路工地" in text


async def principal_answers(lad: OrgLadder) -> None:
    """With a note: the school is reached, the note is its evidence, no field report."""
    phone = lad.people[lad.principal].phone
    assert phone is not None
    at = lad.clock.now()
    reply = ChannelEvent("twilio", "reply", at, sender=phone, text="收到，830名学生留在室内", ack_hint=False)
    counts = await apply_channel_events([reply], lad.store, lad.directory)
    assert counts["org_acknowledged"] >= 1 and counts["org_notes"] == 1 and "replies_to_inbox" not in counts
    assert await lad.store.field_reports() == []
    orgs = await orgs_of(lad.store, lad.w.warning_id)
    school = orgs[SCHOOL]
    assert (school["state"], school["reached_by"], school["note"]) == ("reached", "sms", "830名学生留在室内")
    assert school["reached_at"] == at and orgs[SITE]["state"] == "unreachable"  # nobody responsible
    # The same reply again (a webhook retry): nothing changes, still no report.
    again = await apply_channel_events([reply], lad.store, lad.directory)
    assert again["org_acknowledged"] == 0 and await lad.store.field_reports() == []


async def last_step_and_report(lad: OrgLadder) -> None:
    # Step 4 (75 min): only the site is left to go to the township's dispatcher.
    orgs = await lad.sweep_at(30, "4:escalate")
    assert await lad.org_deliveries(4) == []
    assert orgs[SCHOOL]["last_step"] == 3 and orgs[SITE]["last_step"] == 4
    boss = orgs[SITE]["escalated_to"]
    assert lad.people[boss].role is Role.DISPATCHER
    assert "解放路小学" not in (await lad.notices(4))[boss]
    # The closure report counts them: targeted, reached with the note, the site with its reason.
    report = await closure_report(lad.store, lad.w.warning_id)
    assert report is not None
    section = report["orgs"]
    assert {
        k: section[k] for k in ("targeted", "reached", "unreached", "headcount", "headcount_reached")
    } == {
        "targeted": 2,
        "reached": 1,
        "unreached": 1,
        "headcount": 950,
        "headcount_reached": 830,
    }
    by_id = {o["org_id"]: o for o in section["list"]}
    assert by_id[SCHOOL]["note"] == "830名学生留在室内" and by_id[SCHOOL]["reason"] is None
    assert "无负责人记录" in by_id[SITE]["reason"]
    assert section["by_kind"]["school"] == {"targeted": 1, "reached": 1, "headcount": 830}
    page = to_html(report)
    assert "单位 Organisations: 1 / 2 reached" in page and "830名学生留在室内" in page
    wb = load_workbook(io.BytesIO(to_xlsx(report)))
    sheet = [list(r) for r in wb["单位 orgs"].iter_rows(values_only=True)]
    assert sheet[1][0] == "单位 org" and sheet[2][0] == SITE and sheet[3][-1] == "830名学生留在室内"


async def test_silent_orgs_climb_the_ladder_until_acknowledged(store: Store, small_county: County) -> None:
    lad = await start(store, small_county)
    await resend_visit_escalate(lad)
    await principal_answers(lad)
    await last_step_and_report(lad)
