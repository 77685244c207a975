"""The decision matrix on a synthetic results file with known answers."""

from __future__ import annotations

from pathlib import Path

from memharness_s3.views.html.page import render_report
from tests.support.results import one_gb_at_four_workers, write

GB = 10**9


def test_the_report_opens_with_the_decision(tmp_path: Path) -> None:
    html = render_report(write(tmp_path / "r", one_gb_at_four_workers())).read_text()
    first = html.index('<section id="')
    assert html[first:].startswith('<section id="decision">')
    # textract-direct ran against moto's Textract: greyed, not counted among those that fit
    assert "2 fit; equal within noise: range, chunked" in html
    assert html.index("1 GB \u00d7 4") < html.index('<section id="budget">')
    assert "4 of 4 killed" in html and "inconsistent" not in html
