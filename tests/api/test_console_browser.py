"""The console in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): a
dispatcher composes and submits, an approver approves and releases; through the real pipeline the
loudspeakers play, but with nobody answering the live page's headline (households reached) stays below
100 %, the open households are named with why, and only the loudspeaker layer turns green.
Takes a screenshot of the live map; with WARNENGINE_CONSOLE_SCREENSHOT=path it is
also written there (that is how docs/console.png is made: install fonts-wqy-microhei for the Chinese)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import PASSWORD, Api
from tests.api.e2e import live_stack
from warnengine.api.accounts import create_user
from warnengine.api.auth import ApiRole
from warnengine.directory import County

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOWNSHIP = "410526100000"


def browser(tmp: Path) -> WebDriver:
    # No skip when missing: scripts/test.sh installs both; a missing browser is a failed setup.
    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), "apt-get install chromium chromium-driver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp}",
        "--lang=zh-CN",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def log_in(d: WebDriver, wait: WebDriverWait[WebDriver], url: str, user: str) -> None:
    d.delete_all_cookies()
    d.get(url + "/console/")
    wait.until(ec.visibility_of_element_located((By.ID, "username"))).send_keys(user)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "me"), user))


def dispatcher_submits(d: WebDriver, url: str, villages: int) -> str:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "disp")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"#townships input[value='{TOWNSHIP}']"))).click()
    assert len(d.find_elements(By.CSS_SELECTOR, "#map path.village.selected")) == villages
    d.find_element(By.CSS_SELECTOR, "#hazard option[value='flood']").click()
    d.find_element(By.CSS_SELECTOR, "#severity option[value='red']").click()
    d.find_element(By.ID, "event").send_keys("山洪")
    d.find_element(By.ID, "headline").send_keys("山洪红色预警")
    d.find_element(By.ID, "instruction").send_keys("沿河群众立即转移")
    d.find_element(By.ID, "preview-btn").click()
    cell = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#preview-table td[data-key=villages]"))
    )
    assert cell.text == str(villages)
    d.find_element(By.ID, "submit-btn").click()
    status = wait.until(ec.text_to_be_present_in_element((By.ID, "compose-status"), "Submitted"))
    assert status
    warning_id = d.find_element(By.ID, "compose-status").get_attribute("data-warning-id")
    assert warning_id and warning_id.startswith("w-")
    d.find_element(By.ID, "logout-btn").click()
    return warning_id


def approve_and_release(wait: WebDriverWait[WebDriver], warning_id: str) -> None:
    row = f"#warnings-table tr[data-id='{warning_id}']"
    # What is approved, opened first: the area on the map, the text, the revision.
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"{row} .act-view"))).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "detail-headline"), warning_id))
    assert wait._driver.find_elements(By.CSS_SELECTOR, "#detail-map path.village.selected")
    assert wait._driver.find_element(By.ID, "detail-revision").text.isdigit()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"{row} .act-approve"))).click()
    wait.until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, f"{row}[data-state=approved] .act-release"))
    ).click()


def approver_releases_and_watches(d: WebDriver, url: str, warning_id: str, shot: Path) -> str:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "appr")
    approve_and_release(wait, warning_id)
    # Nobody answers in this stack: the loudspeakers play, but no household is reached, so the headline
    # (到户) is not 100 %, the map is not green, and the open households are named with why.
    WebDriverWait(d, 60).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#open-households li[data-household]"))
    )
    assert d.find_element(By.ID, "live-percent").text != "100%"
    assert not d.find_elements(By.CSS_SELECTOR, "#live-map path.village.r100")
    first = d.find_element(By.CSS_SELECTOR, "#open-households li[data-household]")
    assert first.get_attribute("data-household") and ("未送达" in first.text or "未回复" in first.text)
    assert "未完成" in d.find_element(By.ID, "live-state").text
    d.find_element(By.ID, "live-layer-terminals").click()  # the loudspeaker layer (到村) turns green
    WebDriverWait(d, 60).until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, "#live-map path.village.r100")
            and not d.find_elements(By.CSS_SELECTOR, "#live-map path.village.r0, #live-map path.village.r50")
        )
    )
    assert d.save_screenshot(str(shot)) and shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("WARNENGINE_CONSOLE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["WARNENGINE_CONSOLE_SCREENSHOT"])
    return d.find_element(By.ID, "live-villages").text


async def test_dispatcher_composes_approver_releases_live_map_counts_households(
    tmp_path: Path, small_county_dir: Path, small_county: County, password_hash: str
) -> None:
    villages = [c.code for c in small_county.cells if c.parent == TOWNSHIP]
    async with live_stack(tmp_path, small_county_dir, password_hash) as live:
        d = await asyncio.to_thread(browser, tmp_path / "chromium")
        try:
            # Selenium blocks: it runs in a thread while this loop serves the API and the terminal farm.
            warning_id = await asyncio.to_thread(dispatcher_submits, d, live.api.url, len(villages))
            draft = await live.harness.store.get_draft(warning_id)
            assert draft is not None and (draft["state"], draft["created_by"]) == ("submitted", "disp")
            reached = await asyncio.to_thread(
                approver_releases_and_watches, d, live.api.url, warning_id, tmp_path / "console.png"
            )
            assert reached.endswith(f"/{len(villages)}") and reached != f"{len(villages)}/{len(villages)}"
        finally:
            await asyncio.to_thread(d.quit)
        actions = [
            (e["actor"], e["action"]) for e in await live.harness.store.audit_entries(subject=warning_id)
        ]
        assert list(reversed(actions)) == [
            ("disp", "warning.create"),
            ("disp", "warning.submit"),
            ("appr", "warning.approve"),
            ("appr", "warning.release"),
        ]
        via = await live.harness.store.audit_entries(subject=warning_id, limit=1)
        assert '"via": "session"' in (via[0]["detail"] or "")


ONE_TIME, NEW = "printed once 4711", "my own secret 2026"


def forced_to_change_then_in(d: WebDriver, url: str) -> int:
    """Log in with a one-time password: the change form comes first, then the console. Returns how many
    villages the compose map drew (the console really loaded)."""
    wait = WebDriverWait(d, 20)
    d.delete_all_cookies()
    d.get(url + "/console/")
    wait.until(ec.visibility_of_element_located((By.ID, "username"))).send_keys("newbie")
    d.find_element(By.ID, "password").send_keys(ONE_TIME)
    d.find_element(By.ID, "login-btn").click()
    wait.until(ec.visibility_of_element_located((By.ID, "old-password"))).send_keys(ONE_TIME)
    assert not any(d.find_element(By.ID, hidden).is_displayed() for hidden in ("app", "login"))
    d.find_element(By.ID, "new-password").send_keys(NEW)
    d.find_element(By.ID, "new-password2").send_keys(NEW + "!")
    d.find_element(By.ID, "change-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "change-error"), "differ"))
    d.find_element(By.ID, "new-password2").clear()
    d.find_element(By.ID, "new-password2").send_keys(ONE_TIME)  # the old one again: the server says no
    d.find_element(By.ID, "new-password").clear()
    d.find_element(By.ID, "new-password").send_keys(ONE_TIME)
    d.find_element(By.ID, "change-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "change-error"), "old one"))
    for field in ("new-password", "new-password2"):
        d.find_element(By.ID, field).clear()
        d.find_element(By.ID, field).send_keys(NEW)
    d.find_element(By.ID, "change-btn").click()
    wait.until(ec.visibility_of_element_located((By.ID, "app")))
    assert not d.find_element(By.ID, "change").is_displayed()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#map path.village")))
    d.get(url + "/console/")  # a reload keeps the session, now without the form
    wait.until(ec.visibility_of_element_located((By.ID, "app")))
    assert not d.find_element(By.ID, "change").is_displayed()
    # The map draws after the directory's geometry arrives: wait for it (the count right away raced it).
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#map path.village")))
    return len(d.find_elements(By.CSS_SELECTOR, "#map path.village"))


async def test_a_one_time_password_is_changed_before_the_console_opens(
    api: Api, tmp_path: Path, small_county: County
) -> None:
    assert await create_user(api.store, "newbie", ONE_TIME, ApiRole.DISPATCHER, "新人", must_change=True)
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        drawn = await asyncio.to_thread(forced_to_change_then_in, d, url)
    finally:
        await asyncio.to_thread(d.quit)
    assert drawn == len([c for c in small_county.cells if c.level == "village"])
    row = await api.store.get_user("newbie")
    assert row is not None and row["must_change_password"] is False
    actions = [e["action"] for e in await api.store.audit_entries(subject="newbie")]
    assert actions.count("user.password.change") == 1 and "login" in actions
