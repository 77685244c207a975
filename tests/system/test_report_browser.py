"""The report in a real browser: headless Chromium shows its charts and tables, runs no
injected script, and logs no console error. A screenshot is left in the test's tmp_path.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``); skipped, saying which, when either is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from memharness_s3.config.sizes import parse_size
from memharness_s3.views.html.page import render_report
from tests.support.results import issue_matrix, meta, synthetic_report_dir, write_results_dir

SIZE = re.compile(r"(\d+(?:\.\d+)?) (GB|MB|KB)")
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

    charts = browser.find_elements(By.CSS_SELECTOR, "figure svg.chart")
    assert len(charts) == 4
    for chart in charts:
        label = chart.get_attribute("aria-label")
        assert chart.size["width"] > 500 and chart.size["height"] > 200, label
        # what the chart draws has a size on the page: its lines, marks and texts were rendered
        sized = browser.execute_script(
            "const sized = s => Array.from(arguments[0].querySelectorAll(s))"
            "  .filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length;"
            "return [sized('path, circle, rect:not([fill=none])'), sized('text')]",
            chart,
        )
        assert sized[0] > 0 and sized[1] > 0, label
    legends = browser.find_elements(By.CSS_SELECTOR, "figure ul.legend")
    assert len(legends) == 4 and all(legend.size["height"] > 0 for legend in legends)
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


def _sizes_in(text: str) -> list[int]:
    """The sizes a safe-size cell names, in order (``250 MB \u2013 750 MB``, ``≥ 4 GB``)."""
    return [parse_size(f"{number}{unit}") for number, unit in SIZE.findall(text)]


def test_the_issue_matrix_reads_at_1280_px_without_horizontal_scroll(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """The issue's Celery matrix (kills under a shared 512 MiB node): the decision and its
    one-sentence headline on the first screen, every table within the page at 1280 px, text at
    12 px or more, and no safe size inverted or beyond twice the largest measured size."""
    report = render_report(write_results_dir(tmp_path / "results", issue_matrix(), meta()))
    console_errors(browser)
    browser.get(report.as_uri())
    width = browser.execute_script("return window.innerWidth")
    assert width == 1280
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('.scroll'))"
        ".map(e => [e.parentElement.id, e.scrollWidth, e.clientWidth])"
    )
    assert boxes and all(scroll <= client for _, scroll, client in boxes), boxes
    # the Celery-only table (worker_max_memory_per_child) is among those checked
    assert browser.find_elements(By.CSS_SELECTOR, ".scroll table.recycling")
    headline = browser.find_element(By.CSS_SELECTOR, "#decision p.headline")
    screen = browser.execute_script("return window.innerHeight")
    assert headline.text.startswith("chunked celery and readinto celery fit every measured")
    assert headline.location["y"] + headline.size["height"] < screen
    table = browser.find_element(By.CSS_SELECTOR, "table.decision")
    assert table.location["y"] < screen
    for cell in browser.find_elements(By.CSS_SELECTOR, "table.decision td, table.decision .cost"):
        size = browser.execute_script(
            "return parseFloat(getComputedStyle(arguments[0]).fontSize)", cell
        )
        assert size >= 12, cell.text
    decision = browser.find_element(By.ID, "decision").text
    assert "9 of 12 killed" in decision and "inconsistent" not in decision
    largest = 2 * 10**9
    for cell in browser.find_elements(By.CSS_SELECTOR, "td.safe"):
        sizes = _sizes_in(cell.text)
        assert sizes == sorted(sizes), cell.text  # never "2 GB - 250 MB"
        assert all(size <= 2 * largest for size in sizes), cell.text
    browser.save_screenshot(str(tmp_path / "issue-matrix.png"))
    assert console_errors(browser) == []
