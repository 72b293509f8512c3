"""The console's link-test tab in headless Chromium (issue 18): the stale terminals and providers are
listed with the reason and when they last passed (county time); the fresh ones are not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import Api
from tests.api.test_console_browser import browser, log_in


def stale_rows(d: WebDriver, url: str) -> list[list[str]]:
    wait: WebDriverWait[WebDriver] = WebDriverWait(d, 20)
    log_in(d, wait, url, "grid")
    wait.until(ec.element_to_be_clickable((By.ID, "tab-links"))).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "links-status"), "stale"))
    rows = d.find_elements(By.CSS_SELECTOR, "#links-table tbody tr")
    return [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]


async def test_the_console_lists_the_stale_links(api: Api, tmp_path: Path) -> None:
    now = api.store.clock.now()
    await api.store.record_link_tests([("provider:tencent", "provider", None)], now - 3600)
    await api.store.record_link_tests(
        [
            ("terminal:spk-ok", "terminal", None),
            ("terminal:spk-foreign", "terminal", "rejected: unknown_key"),
            ("provider:tencent", "provider", "credential: tencent AuthFailure.SecretIdNotFound"),
        ],
        now,
    )
    url = str(api.client.make_url("")).rstrip("/")
    d = await asyncio.to_thread(browser, tmp_path / "chromium")
    try:
        rows = await asyncio.to_thread(stale_rows, d, url)
    finally:
        await asyncio.to_thread(d.quit)
    by_link = {r[0]: r for r in rows}
    assert set(by_link) == {"provider:tencent", "terminal:spk-foreign"}
    assert by_link["provider:tencent"][2] == "credential: tencent AuthFailure.SecretIdNotFound"
    assert by_link["terminal:spk-foreign"][1] == "从未 never" and by_link["terminal:spk-foreign"][3] == "1"
