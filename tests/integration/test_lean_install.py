"""The base install leaves matplotlib out (the ``charts`` extra): the report still renders, says
how to add the charts, and ``compare --html`` refuses in one line before it reads anything."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec
from pathlib import Path

import markupsafe
import pytest

from memharness_s3.cli import main
from memharness_s3.views.html.page import CHARTS_MISSING, render_report
from tests.support.results import seed_like, write


def _without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name.split(".")[0] == "matplotlib" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_the_report_renders_without_matplotlib_and_says_how_to_add_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = write(tmp_path / "run", seed_like())
    with_charts = render_report(results).read_text()
    said = str(markupsafe.escape(CHARTS_MISSING))  # as the template writes it
    assert "<img" in with_charts and said not in with_charts
    _without_matplotlib(monkeypatch)
    page = render_report(results).read_text()
    assert said in page
    assert "<img" not in page
    assert "chunked" in page  # the decision and the tables are all there


def test_compare_html_without_matplotlib_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_matplotlib(monkeypatch)
    old, new = write(tmp_path / "a", seed_like()), write(tmp_path / "b", seed_like())
    status = main(["compare", str(old), str(new), "--html", str(tmp_path / "c.html")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "memharness-s3[charts]" in captured.err
    assert not (tmp_path / "c.html").exists()
