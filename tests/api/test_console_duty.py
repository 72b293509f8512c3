"""The console's duty room in headless Chromium: a dispatcher edits a township's roster (through the PUT
endpoint) and sees the new holder on duty now, reads the pre-flight list, and a warning's 叫应 calls with
whether they were answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import Api
from tests.api.test_console_browser import TOWNSHIP, browser, log_in
from tests.escalate.test_ladder import red
from warnengine.directory import County
from warnengine.model import Role
from warnengine.model.records import DutyCall

WID = "w-00000000000000dd"


def edit_roster_and_read_calls(d: WebDriver, url: str, person: str, silent: str) -> tuple[str, str, str]:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "disp")
    d.find_element(By.ID, "tab-duty").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "preflight-count"), "("))
    d.find_element(By.ID, "roster-cell").send_keys(TOWNSHIP)
    d.find_element(By.ID, "roster-load-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "roster-status"), "shifts"))
    d.find_element(By.ID, "roster-add-btn").click()
    values = {"person_id": person, "start": "2023-11-15 00:00", "end": "2023-11-16 00:00"}
    for field, value in values.items():
        box = d.find_element(By.CSS_SELECTOR, f"#roster tr.shift:last-child input[data-field={field}]")
        box.clear()
        box.send_keys(value)
    d.find_element(By.ID, "roster-save-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "roster-status"), "Saved"))
    holder = wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"#duty-now tr[data-cell='{TOWNSHIP}'][data-post=A]")
        )
    )
    d.find_element(By.ID, "calls-warning").send_keys(WID)
    d.find_element(By.ID, "calls-load-btn").click()
    call = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#calls tr[data-target='{person}']")))
    return str(holder.get_attribute("data-person")), call.text, silent


async def test_the_duty_room_edits_the_roster_and_shows_a_warnings_calls(
    api: Api, tmp_path: Path, small_county: County
) -> None:
    person = next(
        p.person_id for p in small_county.people if p.cell_code == TOWNSHIP and p.role is Role.DISPATCHER
    )
    village = next(c.code for c in small_county.cells if c.parent == TOWNSHIP)
    silent = next(
        p.person_id for p in small_county.people if p.cell_code == village and p.role is Role.GRID_HEAD
    )
    await api.store.save_warning(red(village, api.store.clock).model_copy(update={"warning_id": WID}))
    at = api.store.clock.now()
    await api.store.record_duty_calls(WID, [DutyCall(silent, person, 0, TOWNSHIP, "A", at, 3, at + 200)])
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        holder, call, _ = await asyncio.to_thread(edit_roster_and_read_calls, d, url, person, silent)
    finally:
        await asyncio.to_thread(d.quit)
    assert holder == person
    assert silent in call and "3" in call and "未应答" in call and "2023-11-15T06:13+08:00" in call
    roster = await api.store.roster(TOWNSHIP)
    assert [(s.person_id, s.post.value) for s in roster] == [(person, "A")]
    actions = [e["action"] for e in await api.store.audit_entries(subject=TOWNSHIP)]
    assert "duty.replace" in actions
