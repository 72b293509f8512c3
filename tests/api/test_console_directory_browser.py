"""The console's directory panel in headless Chromium: an admin uploads people.xlsx, sees the problem
named with its row and a link to the full list, fixes it, and sees what changed and the last import."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import Api
from tests.api.test_console_browser import browser, log_in
from tests.api.test_directory_import import _people
from warnengine.directory import County


def admin_uploads(d: WebDriver, url: str, bad: Path, good: Path) -> tuple[str, str, str]:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "admin")
    wait.until(ec.element_to_be_clickable((By.ID, "tab-directory"))).click()
    d.find_element(By.ID, "import-files").send_keys(str(bad))
    d.find_element(By.ID, "import-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "import-status"), "未导入"))
    problem = d.find_element(By.ID, "import-lines").text
    link = d.find_element(By.CSS_SELECTOR, "#import-errors a").get_attribute("href") or ""
    d.find_element(By.ID, "import-files").clear()
    d.find_element(By.ID, "import-files").send_keys(str(good))
    d.find_element(By.ID, "import-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "import-status"), "已导入"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "last-import"), "admin"))
    return problem, link, d.find_element(By.ID, "import-status").text


async def test_an_admin_uploads_sees_the_problem_fixes_it_and_imports(
    api: Api, tmp_path: Path, small_county: County
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    bad, good = tmp_path / "bad" / "people.xlsx", tmp_path / "good" / "people.xlsx"
    bad.write_bytes(_people(small_county, tmp_path / "x", (4, "phone", "12345")))
    good.write_bytes(_people(small_county, tmp_path / "y", (4, "name", "改过的名字")))
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        problem, link, done = await asyncio.to_thread(admin_uploads, d, url, bad, good)
    finally:
        await asyncio.to_thread(d.quit)
    assert "people.xlsx:4 phone" in problem and link.endswith("/errors")
    assert "修改 changed 1" in done
