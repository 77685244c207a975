"""The report in a real browser: headless Chromium shows its charts and tables, runs no
injected script, and logs no console error. A screenshot is left in the test's tmp_path.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``); skipped, saying which, when either is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from memharness_s3.views.html.page import render_report
from tests.support.results import synthetic_report_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no {CHROMIUM}: apt-get install -y chromium chromium-driver",
    ),
    pytest.mark.skipif(
        CHROMIUM.exists() and not CHROMEDRIVER.exists(),
        reason=f"chromium is installed but chromium-driver is not (no {CHROMEDRIVER}): "
        "apt-get install -y chromium-driver",
    ),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless Chromium through Debian's chromedriver (no driver download), console logged."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Console messages at error level since the last call (reading the log clears it)."""
    entries: list[dict[str, str]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


def test_the_console_check_sees_errors(browser: webdriver.Chrome, tmp_path: Path) -> None:
    """The check below is only worth something if a page's console error reaches it."""
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><title>x</title><script>console.error("planted")</script>')
    browser.get(page.as_uri())
    assert any("planted" in message for message in console_errors(browser))


def test_report_renders_charts_and_tables_without_console_errors(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    report = render_report(synthetic_report_dir(tmp_path / "results"))
    console_errors(browser)  # drop anything logged before this page
    browser.get(report.as_uri())

    images = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(images) == 4
    for image in images:
        width = browser.execute_script("return arguments[0].naturalWidth", image)
        assert width > 0, f"chart not decoded: {image.get_attribute('alt')}"
    tables = browser.find_elements(By.TAG_NAME, "table")
    assert len(tables) == 4  # decision, safe sizes, summary, every run
    answer = browser.find_element(By.CSS_SELECTOR, "#decision td.answer")
    screen = browser.execute_script("return window.innerHeight")
    assert answer.text == "fastest that fits"
    assert answer.location["y"] + answer.size["height"] < screen  # on the first screen
    summary_rows = browser.find_elements(By.CSS_SELECTOR, "#summary tbody tr")
    assert len(summary_rows) == 16  # 2 strategies x 4 sizes x concurrency 1 and 2
    assert "<script>alert(1)</script>.pdf" in browser.find_element(By.ID, "runs").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert browser.find_elements(By.TAG_NAME, "script") == []

    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert console_errors(browser) == []
