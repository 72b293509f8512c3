"""The console's field-report inbox and evacuation panel in headless Chromium (issue 17): a report posted
while the page is open appears live (Server-Sent Events), the duty person takes it and forwards it with a
note, and the row follows; a watched warning's live page shows its evacuation, a full shelter flagged."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import Api
from tests.api.test_console_browser import browser, log_in
from tests.api.test_evacuation import evacuating
from warnengine.directory import County


def open_inbox(d: WebDriver, url: str) -> None:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "disp")
    wait.until(ec.element_to_be_clickable((By.ID, "tab-inbox"))).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "inbox-open"), "0"))


def take_and_forward(d: WebDriver, rid: str) -> str:
    wait = WebDriverWait(d, 20)
    row = f"#inbox-table tr[data-report='{rid}']"
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"{row}.report-open .act-take"))).click()
    note = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, f"{row}.report-taken .close-note")))
    note.send_keys("转报城关镇 forwarded to the township")
    d.find_element(By.CSS_SELECTOR, f"{row} .act-forward").click()
    done = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"{row}.report-forwarded")))
    return str(done.text)


async def test_inbox_updates_live_and_takes_a_report(api: Api, tmp_path: Path, small_county: County) -> None:
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        await asyncio.to_thread(open_inbox, d, url)
        doc = {
            "kind": "disaster",
            "text": "后山滑坡 landslide",
            "household_id": small_county.households[0].household_id,
        }
        status, out = await api.call("POST", "/api/v1/field-reports", "grid", json=doc)
        assert status == 201
        text = await asyncio.to_thread(take_and_forward, d, out["report_id"])
    finally:
        await asyncio.to_thread(d.quit)
    assert "后山滑坡" in text and "转报城关镇" in text
    r = await api.store.field_report(out["report_id"])
    assert r is not None and r.taken_by == "disp" and r.state.value == "forwarded"


def watch_evacuation(d: WebDriver, url: str, warning_id: str) -> tuple[str, str]:
    """The live page of the warning shows the evacuation panel; returns (totals, the over-full shelter)."""
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "disp")
    d.execute_script("watch(arguments[0])", warning_id)  # what the warnings list's 实况 button does
    over = WebDriverWait(d, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#evac-shelters li.over[data-shelter='S-near']"))
    )
    return str(d.find_element(By.ID, "evac-totals").text), str(over.text)


async def test_live_page_shows_evacuation_and_a_full_shelter(
    api: Api, tmp_path: Path, small_county: County
) -> None:
    wid, (gone, *_rest) = await evacuating(api, small_county)
    doc = {"warning_id": wid, "household_id": gone, "persons": 6}  # room for 5
    status, _ = await api.call("POST", "/api/v1/shelters/S-near/checkins", "disp", json=doc)
    assert status == 201
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        totals, shelter = await asyncio.to_thread(watch_evacuation, d, url, wid)
    finally:
        await asyncio.to_thread(d.quit)
    assert "受威胁 threatened 4 户" in totals and "入住 checked in 6" in totals
    assert "村小学" in shelter and "6/5" in shelter and "OVER CAPACITY" in shelter
