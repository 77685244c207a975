"""The CI gate on synthetic results: budget, expected failures, baseline medians and noise."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.compare import compare_peaks, pair_cases
from memharness_s3.analysis.gate import evaluate
from memharness_s3.analysis.noise import detectable_rise
from memharness_s3.config.gate_options import parse_expectation, parse_tolerance
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Expectation, RunResult
from memharness_s3.results.loader import load
from memharness_s3.views.gate import render_markdown, render_text
from tests.support.cli import gate
from tests.support.results import (
    BUDGET,
    MB,
    MIB,
    calibration_file,
    cid,
    floor_for,
    make_case,
    runs,
    scaled,
    seed_like,
    write,
)

READ_ALL_OOM = {
    "strategy": "read-all",
    "min_size_bytes": 500 * MB,
    "status": "oom",
    "reason": "read-all holds the whole object",
}


EXPECT = [Expectation(**READ_ALL_OOM)]  # type: ignore[arg-type]


def test_unchanged_baseline_passes() -> None:
    results = seed_like()
    verdict = evaluate(
        results, budget_bytes=BUDGET, expectations=EXPECT, baseline=results, baseline_name="old"
    )
    assert verdict.passed
    assert not verdict.failures
    outcomes = {case.label: case.outcome for case in verdict.cases}
    assert outcomes["read-all 750MB x1"] == "expected oom"
    assert all(c.change_pct == 0 for c in verdict.cases if c.median_peak_bytes is not None)
    assert render_text(verdict).splitlines()[-1].startswith("PASS: 5 cases")


def test_injected_20_percent_regression_fails_with_its_numbers() -> None:
    old = seed_like()
    regressed = make_case("chunked", 250 * MB, 4)
    new = scaled(old, regressed, 1.2)
    verdict = evaluate(
        new,
        budget_bytes=BUDGET,
        expectations=EXPECT,
        baseline=old,
        baseline_name="old",
        floors=[floor_for(old)],
    )
    assert not verdict.passed
    (failure,) = verdict.failures
    assert failure.case_id == cid(regressed)
    assert (failure.strategy, failure.size_bytes, failure.concurrency) == ("chunked", 250 * MB, 4)
    assert failure.change_pct == pytest.approx(20.0, abs=0.01)
    assert failure.baseline_median_peak_bytes == pytest.approx(69.1 * MB)
    assert failure.median_peak_bytes == pytest.approx(69.1 * MB * 1.2, rel=1e-6)
    line = render_text(verdict).splitlines()[0]
    assert line.startswith("FAIL chunked 250MB x4")
    assert "baseline 69.1 MB (+20.0%)" in line
    assert "over the 3% tolerance" in line
    assert "detects rises above 2.1 MB (3.0%)" in line
    assert render_text(verdict).splitlines()[-1].startswith("FAIL: 5 cases")


def test_rise_within_tolerance_passes() -> None:
    old = seed_like()
    new = scaled(old, make_case("range", 250 * MB), 1.09)
    verdict = evaluate(new, budget_bytes=BUDGET, expectations=EXPECT, baseline=old, tolerance=0.1)
    assert verdict.passed


def test_rise_within_the_measured_spread_of_repeats_is_noise() -> None:
    case = make_case("transfer-manager", 250 * MB)
    old = runs(case, [[100.0], [101.0], [102.0]], tag="o")
    # median 101 -> 121.2 (+20%), but these repeats themselves range over 25 MB
    new = runs(case, [[121.2], [110.0], [135.0]], tag="n")
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old, baseline_name="old")
    assert verdict.passed
    (result,) = verdict.cases
    assert result.outcome == "noise"
    assert result.change_pct == pytest.approx(20.0, abs=0.01)
    line = render_text(verdict).splitlines()[0]
    assert line.startswith("PASS transfer-manager 250MB x1")
    assert "within the noise of their repeats: noise, not a failure" in line
    # MAD of the repeats around each side's median: 1, 1, 11.2, 13.8 MB -> 6.1 MB x 1.4826
    assert result.peak_change is not None
    expected = detectable_rise(6.1 * 1.4826 * MB, 3, 3, 3.0)
    assert result.peak_change.detectable_bytes == pytest.approx(expected)
    assert f"detects rises above {expected / MB:.1f} MB" in line
    assert "| noise |" in render_markdown(verdict)


def test_rise_outside_the_measured_spread_fails() -> None:
    case = make_case("transfer-manager", 250 * MB)
    old = runs(case, [[100.0], [101.0], [102.0]], tag="o")
    new = runs(case, [[121.2], [121.0], [121.5]], tag="n")
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old, baseline_name="old")
    assert not verdict.passed
    (failure,) = verdict.failures
    assert "over the 3% tolerance and the noise of their repeats" in failure.reasons[0]
    assert verdict.compared_repeats == "3"
    assert "medians of 3 repeats" in render_markdown(verdict)


def test_worker_spread_of_a_single_repeat_is_not_noise() -> None:
    """The noise rule needs repeats: one repeat of 4 workers is one measurement of the case."""
    case = make_case("transfer-manager", 250 * MB, 4)
    old = runs(case, [[98.0, 100.0, 102.0, 115.0]], tag="o")
    new = runs(case, [[118.0, 122.0, 120.0, 121.0]], tag="n")
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old)
    assert [c.outcome for c in verdict.cases] == ["cannot be compared at 1 repeat"]
    assert not evaluate(new, budget_bytes=BUDGET, baseline=old, floors=[floor_for(old)]).passed


def test_budget_breach_fails_even_when_the_median_is_under() -> None:
    case = make_case("range", 2 * 10**9, 4)
    results = runs(case, [[157.0, 157.0, 540.0, 157.0]])
    verdict = evaluate(results, budget_bytes=BUDGET)
    (failure,) = verdict.failures
    assert failure.median_peak_bytes == pytest.approx(157 * MB)
    assert failure.max_peak_bytes == 540 * MB
    assert "1 of 4 ok runs above the budget: peak 540.0 MB > 536.9 MB" in failure.reasons[0]


def test_expected_oom_passes_and_unexpected_oom_fails() -> None:
    results = [
        *runs(make_case("read-all", 750 * MB, 4), [[547.0, 548.0, 547.5, 547.9]], status="oom"),
        *runs(make_case("chunked", 750 * MB), [[540.0]], status="oom"),
    ]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=EXPECT)
    assert not verdict.passed
    (failure,) = verdict.failures
    assert failure.strategy == "chunked"
    assert "1 of 1 runs ended oom: killed by the kernel" in failure.reasons[0]
    by_strategy = {case.strategy: case.outcome for case in verdict.cases}
    assert by_strategy == {"read-all": "expected oom", "chunked": "FAIL"}


def test_expectation_needs_the_same_status_and_a_big_enough_object() -> None:
    timeout = [*runs(make_case("read-all", 750 * MB), [[300.0]], status="timeout")]
    small_oom = [*runs(make_case("read-all", 250 * MB), [[540.0]], status="oom")]
    assert not evaluate(timeout, budget_bytes=BUDGET, expectations=EXPECT).passed
    assert not evaluate(small_oom, budget_bytes=BUDGET, expectations=EXPECT).passed


def test_expected_failure_that_ends_ok_is_a_note() -> None:
    results = runs(make_case("read-all", 750 * MB), [[480.0]])
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=EXPECT)
    assert verdict.passed
    assert any("expected oom" in note and "1 of 1 runs ended ok" in note for note in verdict.notes)


def test_a_new_case_is_listed_and_a_missing_one_fails_unless_allowed() -> None:
    old = [*runs(make_case("chunked"), [[69.0]]), *runs(make_case("range"), [[157.0]])]
    new = [*runs(make_case("chunked"), [[69.0]]), *runs(make_case("read-all"), [[302.0]])]
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old, floors=[floor_for(old)])
    assert not verdict.passed
    assert "only in the new results (not compared): read-all 250MB x1" in verdict.notes
    (missing,) = verdict.failures
    assert missing.label == "range 250MB x1"
    assert "missing from these results" in missing.reasons[0]
    row = "| read-all 250MB x1 | worker scope: peak RSS per worker 302.0 MB | 302.0 | new | - | - |"
    assert f"{row} pass |" in render_markdown(verdict)
    allowed = evaluate(
        new, budget_bytes=BUDGET, baseline=old, allow_missing=True, floors=[floor_for(old)]
    )
    assert allowed.passed
    assert allowed.outcome_counts == {"pass": 2, "missing (allowed)": 1}
    assert "1 compared with baseline" in render_text(allowed).splitlines()[-1]


def test_markdown_names_the_failing_case() -> None:
    old = seed_like()
    regressed = make_case("range", 250 * MB)
    verdict = evaluate(
        scaled(old, regressed, 1.2),
        budget_bytes=BUDGET,
        expectations=EXPECT,
        baseline=old,
        floors=[floor_for(old)],
    )
    markdown = render_markdown(verdict)
    assert markdown.startswith("## ❌ memharness gate: FAIL")
    assert "**5 cases: 3 pass, 1 expected oom, 1 failing.**" in markdown
    assert "### Failures (1)" in markdown
    failures = markdown.split("### Failures (1)")[1].split("### All cases")[0]
    assert f"| range 250MB x1 | `{cid(regressed)}` | 188.9 |" in failures
    assert "| 157.4 | +20.0% |" in failures
    assert "MB = 10^6 bytes" in markdown


def test_tolerance_parsing() -> None:
    assert parse_tolerance("10%") == pytest.approx(0.1)
    assert parse_tolerance("0.1") == pytest.approx(0.1)
    assert parse_tolerance("2.5 %") == pytest.approx(0.025)
    for bad, message in [
        ("10", "ambiguous"),
        ("-5%", "malformed"),
        ("ten", "malformed"),
        ("nan", "malformed"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_tolerance(bad)


def test_expect_parsing() -> None:
    expectation = parse_expectation("read-all:large:oom")
    assert (expectation.strategy, expectation.min_size_bytes, expectation.status) == (
        "read-all",
        750 * MB,
        "oom",
    )
    assert parse_expectation("chunked:1.5GB:timeout").min_size_bytes == 1_500_000_000
    for bad in ("read-all:500MB", "read-all:500MB:ok", "read-all:big:oom", ":500MB:oom"):
        with pytest.raises(UsageError, match="--expect"):
            parse_expectation(bad)


def test_malformed_result_values_are_usage_errors(tmp_path: Path) -> None:
    directory = write(tmp_path / "r", runs(make_case(), [[69.0]]))
    line = json.loads((directory / "results.jsonl").read_text())
    line["peak_rss_bytes"] = "69 MB"
    (directory / "results.jsonl").write_text("\n" + json.dumps(line) + "\n")
    with pytest.raises(
        UsageError, match=r"results.jsonl:2: field 'peak_rss_bytes' must be int or null"
    ):
        load(directory)


# ---------------------------------------------------------------------------------------------
# The command module, through a parser built from its add_arguments


@pytest.fixture
def no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.mark.usefixtures("no_step_summary")
def test_command_exit_status_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old", seed_like(), expect=[READ_ALL_OOM])
    calibration_file(old / "calibration.json", seed_like())  # found in the baseline directory
    regressed = make_case("chunked", 250 * MB, 4)
    new = write(tmp_path / "new", scaled(seed_like(), regressed, 1.2), expect=[READ_ALL_OOM])

    same = write(tmp_path / "same", seed_like(), expect=[READ_ALL_OOM])
    assert gate(str(old), "--budget", "512MiB", "--baseline", str(same)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("PASS")

    # the calibration beside the baseline's results.jsonl is found when the file is named too
    assert gate(str(new), "--budget", "512MiB", "--baseline", str(old / "results.jsonl")) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"FAIL chunked 250MB x4 [{cid(regressed)}]")
    assert lines[-1].startswith("FAIL: 5 cases: 3 pass, 1 expected oom, 1 failing")

    # meta.json's expectation made read-all's oom pass; without it the oom fails
    assert gate(str(old / "results.jsonl"), "--budget", "512MiB") == 0
    (old / "meta.json").unlink()
    assert gate(str(old), "--budget", "512MiB") == 1
    capsys.readouterr()
    assert gate(str(old), "--budget", "512MiB", "--expect", "read-all:500MB:oom") == 0


@pytest.mark.usefixtures("no_step_summary")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "512 parsecs"], "--budget: malformed size"),
        (["--budget", "512MiB", "--tolerance", "ten"], "malformed --tolerance"),
        (["--budget", "512MiB", "--noise-factor", "-1"], "--noise-factor must be 0 or more"),
        (["--budget", "512MiB", "--expect", "read-all:oom"], "malformed --expect"),
        (["--budget", "512MiB", "--baseline", "MISSING"], "no results at"),
        (["--budget", "512MiB", "--baseline", "NOTJSON"], "not a memharness result line"),
        (["--budget", "512MiB", "--baseline", "EMPTY"], "has no runs: nothing to check"),
    ],
)
def test_command_bad_input_is_a_usage_error(tmp_path: Path, argv: list[str], message: str) -> None:
    results = write(tmp_path / "r", seed_like(), expect=[READ_ALL_OOM])
    (tmp_path / "NOTJSON").write_text('{"run_id": "x"}\nnot json\n')
    (tmp_path / "EMPTY").write_text("\n")
    argv = [str(tmp_path / a) if a in ("MISSING", "NOTJSON", "EMPTY") else a for a in argv]
    with pytest.raises(UsageError, match=message):
        gate(str(results), *argv)


def test_summary_file_and_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path / "old", seed_like(), expect=[READ_ALL_OOM])
    new = write(
        tmp_path / "new",
        scaled(seed_like(), make_case("range", 250 * MB), 1.3),
        expect=[READ_ALL_OOM],
    )
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    summary = tmp_path / "summary.md"

    argv = ["--budget", "512MB", "--baseline", str(old), "--summary", str(summary)]
    argv += ["--calibration", str(calibration_file(tmp_path / "cal.json", seed_like()))]
    assert gate(str(new), *argv) == 1
    written = summary.read_text()
    assert written.startswith("## ❌ memharness gate: FAIL")
    assert step_summary.read_text() == "earlier step\n" + written

    assert gate(str(old), "--budget", "512MB", "--summary", str(summary)) == 0
    assert summary.read_text().startswith("## ✅ memharness gate: PASS")  # overwritten
    assert step_summary.read_text().count("memharness gate") == 2  # appended
    capsys.readouterr()


def test_ok_run_without_a_peak_fails_and_vanished_comparisons_are_noted() -> None:
    case = make_case("chunked")
    unmeasured = runs(case, [[69.0]])
    unmeasured[0].peak_rss_bytes = None
    verdict = evaluate(unmeasured, budget_bytes=BUDGET)
    assert verdict.failures[0].reasons == (
        "1 ok runs recorded no peak: the budget cannot be checked",
    )

    old = runs(make_case("read-all", 750 * MB), [[480.0]])
    new = runs(make_case("read-all", 750 * MB), [[547.0]], status="oom")
    verdict = evaluate(new, budget_bytes=BUDGET, expectations=EXPECT, baseline=old)
    assert verdict.passed
    assert "read-all 750MB x1: no ok run to compare with the baseline's median peak 480.0 MB" in (
        verdict.notes
    )


def pair_of(old: Sequence[RunResult], new: Sequence[RunResult]):  # type: ignore[no-untyped-def]
    (pair,) = pair_cases(Analysis(new).cases, Analysis(old).cases).pairs
    return pair


def test_the_noise_estimate_narrows_as_repeats_grow() -> None:
    """Max - min only grows with repeats; the MAD's standard error of the median shrinks."""
    case = make_case("transfer-manager", 250 * MB)
    offsets = [0.0, 3.0, -3.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 4.0]
    detectable = []
    for count in (3, 5, 10):
        old = runs(case, [[120.0 + o] for o in offsets[:count]], tag="o")
        new = runs(case, [[120.5 - o] for o in offsets[:count]], tag="n")
        change = compare_peaks(pair_of(old, new), 0.0, 3.0)
        assert change is not None and change.noise_bytes is not None
        detectable.append(change.noise_bytes)
    assert detectable[0] > detectable[1] > detectable[2] > 0


def test_one_repeat_a_a_passes_against_a_calibration_floor() -> None:
    """Two default runs of transfer-manager differ by +11 %: within the scatter between runs."""
    case = make_case("transfer-manager", 250 * MB)
    old, new = runs(case, [[110.0]], tag="o"), runs(case, [[122.4]], tag="n")
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old, floors=[floor_for(old, 8.0)])
    assert verdict.passed
    (result,) = verdict.cases
    assert result.outcome == "noise"
    line = render_text(verdict).splitlines()[0]
    assert line.startswith("PASS transfer-manager 250MB x1")
    assert "within the noise of calibration test.json" in line
    assert "detects rises above 42.5 MB (38.7%" in line  # 3 x 1.2533 x 8 MB x sqrt(2)


def test_a_real_rise_fails_at_one_repeat() -> None:
    """chunk_size 8 MiB -> 64 MiB at one repeat a side, against the floor of the old case."""
    default = dataclasses.replace(make_case("chunked"), params={"chunk_size": 8 * MIB})
    old = runs(default, [[69.1]], tag="o")
    new = runs(dataclasses.replace(default, params={"chunk_size": 64 * MIB}), [[186.6]], tag="n")
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=old, floors=[floor_for(old, 0.3)])
    (failure,) = verdict.failures
    assert (
        "median peak rose +170.0% (69.1 -> 186.6 MB) with chunk_size 8MiB -> 64MiB"
        in (failure.reasons[0])
    )
    assert "detects rises above 2.1 MB (3.0%)" in failure.reasons[0]


@pytest.mark.usefixtures("no_step_summary")
def test_cannot_be_compared_exits_0_and_says_what_would_resolve_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = make_case("transfer-manager")
    old = write(tmp_path / "old", runs(case, [[100.0]], tag="o"))
    new = write(tmp_path / "new", runs(case, [[120.0]], tag="n"))
    assert gate(str(new), "--budget", "512MiB", "--baseline", str(old)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("SKIP transfer-manager 250MB x1")
    assert "cannot be compared at 1 repeat: median peak rose +20.0%" in lines[0]
    assert "3 repeats a side (--repeat 3) let the gate read the noise" in lines[0]
    assert "1 cannot be compared at 1 repeat" in lines[-1]

    # With repeats whose scatter hides the tolerance, the line says how many would resolve it.
    wide_old = runs(case, [[100.0], [104.0], [96.0]], tag="o")
    wide_new = runs(case, [[101.0], [105.0], [97.0]], tag="n")
    change = compare_peaks(pair_of(wide_old, wide_new), 0.03, 3.0)
    assert change is not None and change.repeats_needed is not None
    sigma = 4.0 * 1.4826 * MB
    needed = change.repeats_needed
    assert detectable_rise(sigma, needed, needed, 3.0) <= 3 * MB
    assert detectable_rise(sigma, needed - 1, needed - 1, 3.0) > 3 * MB
    assert f"{needed} repeats a side would resolve the 3.0 MB tolerance" in change.detects


@pytest.mark.usefixtures("no_step_summary")
def test_warn_comments_without_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case("chunked")
    base = [[69.0], [69.05], [68.95]]
    old = write(tmp_path / "old", runs(case, base, tag="o"))
    up2 = write(tmp_path / "up2", runs(case, [[p * 1.02 for p in r] for r in base], tag="n"))
    up5 = write(tmp_path / "up5", runs(case, [[p * 1.05 for p in r] for r in base], tag="n"))
    summary = tmp_path / "summary.md"
    argv = ["--budget", "512MiB", "--baseline", str(old), "--warn", "1%", "--summary", str(summary)]

    assert gate(str(up2), *argv) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("WARN chunked 250MB x1")
    assert "over the 1% warning threshold but within the 3% tolerance" in line
    assert "detects rises above 2.1 MB (3.0%)" in line
    markdown = summary.read_text()
    assert markdown.startswith("## ⚠️ memharness gate: PASS with 1 warning")
    assert "### Warnings (1)" in markdown
    assert "| **WARN** |" in markdown

    assert gate(str(up5), *argv) == 1
    capsys.readouterr()
    with pytest.raises(UsageError, match="--warn 3% must be below --tolerance 3%"):
        gate(str(up2), "--budget", "512MiB", "--baseline", str(old), "--warn", "3%")
    with pytest.raises(UsageError, match="malformed --warn 'x'"):
        gate(str(up2), "--budget", "512MiB", "--baseline", str(old), "--warn", "x")


def test_every_compared_line_names_the_smallest_detectable_rise() -> None:
    old = seed_like()
    new = scaled(scaled(old, make_case("range"), 1.2), make_case("chunked"), 1.025)
    verdict = evaluate(
        new,
        budget_bytes=BUDGET,
        expectations=EXPECT,
        baseline=old,
        floors=[floor_for(old)],
        warn=0.005,
    )
    lines = render_text(verdict).splitlines()
    case_lines = [line for line in lines if line.split(" ")[0] in ("PASS", "FAIL", "WARN")]
    case_lines = [line for line in case_lines if " [" in line]
    assert {line.split(" ")[0] for line in case_lines} == {"PASS", "FAIL", "WARN"}
    assert len(case_lines) == 4  # the oom case has no ok run to compare
    assert all("detects rises above" in line for line in case_lines)
    assert "detects rises above 3.0%" in lines[-1]


def test_the_baselines_history_is_a_noise_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    case = make_case("transfer-manager")
    history = [
        write(tmp_path / f"h{i}", runs(case, [[p]], tag=f"h{i}"))
        for i, p in enumerate([100.0, 112.0, 104.0, 108.0])
    ]
    new = write(tmp_path / "new", runs(case, [[113.0]], tag="n"))
    argv = [a for h in history for a in ("--baseline", str(h))]
    assert gate(str(new), "--budget", "512MiB", *argv) == 0
    out = capsys.readouterr().out
    assert "within the noise of the baseline's history (4 runs)" in out
    far = write(tmp_path / "far", runs(case, [[190.0]], tag="f"))
    assert gate(str(far), "--budget", "512MiB", *argv) == 1
    assert "FAIL transfer-manager 250MB x1" in capsys.readouterr().out
