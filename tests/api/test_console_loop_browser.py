"""From compose to a closed loop on the embedded default, in headless Chromium (issue 21): the real stack
(embedded Tansu and MQTT, SQLite, a worker process, the terminal farm, the API) with simulated providers
on a 90x engine clock, and the simulated visitors reporting through the API. The console says the
providers are simulated; while households are open their villages are not green; the map turns green
only when the loop is closed (every household reached or named); the closure page opens from the live view.
With WARNENGINE_LOOP_SCREENSHOT=path the live page, households being reached, is saved there (README's
screenshot: install fonts-wqy-microhei for the Chinese).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from tests.api.e2e import live_stack
from tests.api.test_console_browser import (
    TOWNSHIP,
    approve_and_release,
    browser,
    dispatcher_submits,
    log_in,
)
from tests.integration.conftest import stack_settings
from warnengine.db import tables as t
from warnengine.directory import County
from warnengine.embedded.demo_loop import accelerated
from warnengine.embedded.visitors import start_visitors

LOOP_S = 150  # wall seconds for the loop to close at 90x (the red ladder's 75 minutes are 50 s)
GREEN = "#live-map path.village.r100"


def approver_releases_and_watches_the_loop(d: WebDriver, url: str, warning_id: str) -> str:
    wait = WebDriverWait(d, 20)
    log_in(d, wait, url, "appr")
    banner = wait.until(ec.visibility_of_element_located((By.ID, "providers")))
    assert banner.get_attribute("data-mode") == "simulated" and "模拟 / simulated providers" in banner.text
    approve_and_release(wait, warning_id)
    WebDriverWait(d, 60).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#open-households li[data-household]"))
    )
    # While households are open, their villages are not green, nor is the headline 100 %.
    open_villages = {
        li.get_attribute("data-village")
        for li in d.find_elements(By.CSS_SELECTOR, "#open-households li[data-household]")
    }
    green = {p.get_attribute("data-code") for p in d.find_elements(By.CSS_SELECTOR, GREEN)}
    assert open_villages and not open_villages & green
    assert d.find_element(By.ID, "live-percent").text != "100%"
    if os.environ.get("WARNENGINE_LOOP_SCREENSHOT"):  # the live page with households being reached
        assert d.save_screenshot(os.environ["WARNENGINE_LOOP_SCREENSHOT"])
    # The loop closes: done, every targeted village green, nobody left open.
    WebDriverWait(d, LOOP_S).until(ec.text_to_be_present_in_element((By.ID, "live-state"), "已完成 done"))
    assert not d.find_elements(By.CSS_SELECTOR, "#live-map path.village.r0, #live-map path.village.r50")
    assert d.find_elements(By.CSS_SELECTOR, GREEN)
    assert d.find_element(By.ID, "open-count").text == "(0)"
    persons = d.find_element(By.ID, "live-persons").text  # 到人: accounted / residents (reasons if any)
    assert persons != "—" and "/" in persons
    # The closure report opens from the live view.
    d.find_element(By.ID, "live-report").click()
    WebDriverWait(d, 10).until(lambda d: len(d.window_handles) == 2)
    d.switch_to.window(d.window_handles[-1])
    WebDriverWait(d, 20).until(ec.presence_of_element_located((By.TAG_NAME, "table")))
    return d.page_source


async def test_compose_to_a_closed_loop_on_simulated_providers(
    tmp_path: Path, small_county_dir: Path, small_county: County, password_hash: str
) -> None:
    fast = accelerated(stack_settings(tmp_path, small_county_dir))
    keys = (
        "clock_speed",
        "resend_after_s",
        "reconcile_grace_s",
        "terminal_offline_after_s",
        "escalate_interval_s",
    )
    over = {k: getattr(fast, k) for k in keys}
    villages = [c.code for c in small_county.cells if c.parent == TOWNSHIP]
    async with live_stack(
        tmp_path, small_county_dir, password_hash, simulated_providers=True, **over
    ) as live:
        h, api = live.harness, live.api
        visitors = await start_visitors(h.settings, api.url)
        d = await asyncio.to_thread(browser, tmp_path / "chromium")
        try:
            warning_id = await asyncio.to_thread(dispatcher_submits, d, api.url, len(villages))
            page = await asyncio.to_thread(approver_releases_and_watches_the_loop, d, api.url, warning_id)
        finally:
            await asyncio.to_thread(d.quit)
            await visitors.stop()
        assert warning_id in page
        wh = t.warning_households.c
        async with h.store.engine.connect() as conn:
            states = {
                r.state
                for r in await conn.execute(select(wh.state).distinct().where(wh.warning_id == warning_id))
            }
        assert states and states <= {"reached", "unreachable"}
