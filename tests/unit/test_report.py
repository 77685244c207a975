"""The HTML report and its parts: fit, oom boundary, verdicts, escaping, bad input."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.verdicts import judge
from memharness_s3.cli import report as report_cmd
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Expectation
from memharness_s3.views.html import budget, charts, fit
from tests.support.results import (
    CAP,
    MIB,
    matrix_runs,
    meta,
    run,
    series_of,
    write_results_dir,
)

MB = 10**6


# --- fit ---------------------------------------------------------------------------------


def test_fit_recovers_intercept_and_slope_from_medians_over_repeats() -> None:
    a, b = 50 * MB, 0.8
    runs = []
    for size in (10 * MB, 100 * MB, 200 * MB, 400 * MB):
        exact = round(a + b * size)
        for repeat, noise in enumerate((-3 * MB, 0, 9 * MB)):  # the median is the exact value
            runs.append(run("read-all", size, exact + noise, repeat=repeat))
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.fit is not None
    assert safe.fit.intercept_bytes == pytest.approx(a, rel=1e-6)
    assert safe.fit.slope == pytest.approx(b, rel=1e-6)
    assert safe.fit.r_squared == pytest.approx(1.0)
    assert safe.fit.sizes == 4
    assert safe.kind == "fit"
    assert safe.safe_size_bytes == pytest.approx((CAP - a) / b, rel=1e-6)
    assert "Safe up to 609 MB" in safe.statement
    assert "extrapolation" in safe.statement  # beyond the largest measured size, 400 MB


def test_two_sizes_cannot_support_a_threshold() -> None:
    runs = [run("read-all", 10 * MB, 62 * MB), run("read-all", 100 * MB, 152 * MB)]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "unsupported"
    assert safe.safe_size_bytes is None
    assert "cannot support a threshold" in safe.statement
    assert "only 2 distinct sizes" in safe.statement
    # a line through the two sizes would meet the budget at 485 MB, beyond twice the largest
    # measured size (100 MB): not said
    assert "reaches the budget" not in safe.statement


def test_poor_fit_cannot_support_a_threshold() -> None:
    peaks = {10 * MB: 60 * MB, 100 * MB: 300 * MB, 200 * MB: 70 * MB, 400 * MB: 320 * MB}
    runs = [run("range", size, peak) for size, peak in peaks.items()]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.fit is not None and safe.fit.r_squared is not None
    assert safe.fit.r_squared < fit.MIN_R_SQUARED
    assert safe.kind == "unsupported"
    assert "cannot support a threshold" in safe.statement
    assert "fits poorly" in safe.statement


def test_flat_peak_has_no_limit_in_the_measured_range() -> None:
    peaks = {10 * MB: 61 * MB, 250 * MB: 69 * MB, 750 * MB: 69 * MB, 2000 * MB: 69 * MB}
    runs = [run("chunked", size, peak) for size, peak in peaks.items()]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "flat"
    assert safe.safe_size_bytes == math.inf
    assert "No limit found in the measured range" in safe.statement


def test_equal_peaks_are_flat_without_an_r_squared() -> None:
    line = fit.fit_line([(10 * MB, 60e6), (20 * MB, 60e6), (30 * MB, 60e6)])
    assert line is not None and line.r_squared is None and line.slope == 0
    assert line.reaches(CAP) is None
    assert fit.fit_line([(10 * MB, 60e6)]) is None


def test_oom_boundary_brackets_the_threshold() -> None:
    runs = [r for r in matrix_runs() if r.strategy == "read-all" and r.concurrency == 1]
    assert fit.oom_boundary(runs) == fit.Boundary(300 * MB, 700 * MB)
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "bracketed"
    assert safe.safe_size_bytes is None
    assert "cannot support a single threshold" in safe.statement
    assert "between 300 MB (largest ok) and 700 MB (smallest failed)" in safe.statement


def test_over_budget_ok_runs_fail_against_a_smaller_budget() -> None:
    runs = [r for r in matrix_runs() if r.strategy == "read-all" and r.concurrency == 1]
    limit = fit.budget_boundary(runs, 256 * MIB)
    assert limit == fit.Boundary(100 * MB, 300 * MB)
    # An oom at a cap above the budget still fails it; one at a cap below proves nothing.
    assert fit.budget_boundary(runs, 1024 * MIB) == fit.Boundary(300 * MB, None)


def test_safe_sizes_cover_every_strategy_and_concurrency() -> None:
    labels = [s.series.label for s in fit.safe_sizes(Analysis(matrix_runs()), CAP)]
    assert labels == ["chunked x1", "chunked x2", "read-all x1", "read-all x2"]


# --- cases and the budget question -------------------------------------------------------


def test_case_verdicts_against_budget_and_expectations() -> None:
    runs = [
        run("read-all", 100 * MB, 150 * MB),
        run("read-all", 500 * MB, CAP + MB, status="oom"),
        run("range", 500 * MB, 600 * MB),
        run("range", 900 * MB, CAP + MB, status="oom"),
        run("chunked", 900 * MB, 70 * MB),
    ]
    expect = [
        Expectation("read-all", 400 * MB, "oom", "too big"),
        Expectation("chunked", 800 * MB, "oom", "wrong guess"),
    ]
    cases = {(c.key.strategy, c.key.size_bytes): c for c in Analysis(runs).cases}
    rows = {key: judge(case, CAP, expect) for key, case in cases.items()}
    assert rows["read-all", 100 * MB].verdict == "ok"
    assert rows["read-all", 500 * MB].verdict == "expected oom"
    expectation = rows["read-all", 500 * MB].expectation
    assert expectation is not None and expectation.reason == "too big"
    assert rows["range", 500 * MB].verdict == "over budget"
    assert rows["range", 900 * MB].verdict == "1 of 1 killed"
    assert rows["chunked", 900 * MB].verdict == "ok (expected oom)"
    assert cases["read-all", 500 * MB].shown_peak == CAP + MB  # the failed run's peak


def test_budget_questions_answered_from_the_data() -> None:
    runs = matrix_runs()
    analysis = Analysis(runs)
    answers = budget.answer_questions(analysis, fit.safe_sizes(analysis, CAP))
    # The multipart question (range, transfer-manager above 1 GB) asks about nothing this run
    # measured, so it is left out rather than answered "not measured".
    in_memory, threshold, streaming = answers
    assert [(f.label, f.verdict) for f in in_memory.findings] == [
        ("read-all x1", "yes"),
        ("read-all x2", "yes"),
    ]
    assert "from 10 MB to 100 MB; fails at 700 MB (1 of 1 killed)" in in_memory.findings[0].text
    # 500 MB lies between the largest ok (300 MB) and the smallest oom (700 MB).
    assert threshold.findings[0].verdict == "unclear"
    assert "Ok at 300 MB, but nothing measured at or above 500 MB passed" in (
        threshold.findings[0].text
    )
    # chunked is flat up to 700 MB, but nothing at or above 1 GB was measured: no green yes
    assert all(f.verdict == "unclear" for f in streaming.findings)


# --- the report --------------------------------------------------------------------------


def test_timelines_outside_the_results_dir_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("t_s,rss_bytes\n0,1\n")
    inside = tmp_path / "r"
    inside.mkdir()
    assert charts.read_timeline(inside, "../secret.csv") == []
    assert charts.read_timeline(tmp_path, "secret.csv") == [(0.0, 1e-6)]


def test_report_subcommand_prints_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_results_dir(tmp_path / "r", matrix_runs()[:2], meta())
    parser = argparse.ArgumentParser()
    report_cmd.add_arguments(parser)
    assert report_cmd.run(parser.parse_args([str(directory), "--budget", "1GiB"])) == 0
    assert capsys.readouterr().out.strip() == str(directory / "index.html")
    with pytest.raises(UsageError, match="malformed size"):
        report_cmd.run(parser.parse_args([str(directory), "--budget", "lots"]))


# --- bad input ---------------------------------------------------------------------------


# --- what the backend could not measure, and of wire -------------------------------------
