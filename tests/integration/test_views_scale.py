"""The views at scale (issue 19, point 3): one streaming read with lean results, charts whose
cost does not grow with the results, compare one directory at a time, and the synthetic
directories ``nox -s scale`` times. Chart items of issue 18 point 4: killed tasks stay in the
peak-against-size chart, the aggregate chart reads the node's charged peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from memharness_s3.views.html import page
from memharness_s3.views.html.page import render_report
from tests.support.results import make_case, runs, write_results_dir

MB = 10**6


def test_the_every_run_table_lists_failed_runs_first_past_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        *runs(make_case("chunked", 250 * MB), [[69.0], [70.0], [71.0]]),
        *runs(make_case("read-all", 750 * MB), [[547.7]], status="oom"),
    ]
    monkeypatch.setattr(page, "MAX_RUN_ROWS", 2)
    folder = write_results_dir(tmp_path / "r", lines)
    html = render_report(folder).read_text()
    assert "2 more lines not listed" in html
    assert "killed by the kernel" in html
