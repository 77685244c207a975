"""Verdicts against the budget the kernel enforces (issue 18, points 4, 7 and 8).

Each test builds the results lines of a contradiction the issue found (a Celery node of 4
children in one 512 MiB cgroup, local runs at the same sizes, a size sweep of read-all) and
checks what the decision matrix, headline, safe sizes, budget questions, gate and report say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memharness_s3.analysis import recycling
from memharness_s3.analysis.budget_scope import NODE, budget_figure, scope_of
from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.decision import FITS, OVER, TIGHT, UNCHECKED, decide
from memharness_s3.analysis.gate import evaluate
from memharness_s3.analysis.headline import headline
from memharness_s3.model.records import Expectation, RunResult
from memharness_s3.views.gate import render_markdown, render_text
from memharness_s3.views.html import budget, fit
from tests.support.cli import gate
from tests.support.results import CAP, GB, MB, issue_matrix, node_run, task, write


def cell_of(results: list[RunResult], strategy: str, size: int, concurrency: int = 4) -> Any:
    column = decide(Analysis(results), CAP).column(size, concurrency)
    assert column is not None
    # a series name adds "celery" to the strategy's
    return next(cell for cell in column.cells if cell.strategy.split()[0] == strategy)


# --- the scope and its figure ------------------------------------------------------------


def test_celery_lines_are_node_scoped_even_without_the_field() -> None:
    line = task("chunked", 250 * MB, 70 * MB, node=300 * MB)
    assert scope_of(line) == NODE and budget_figure(line) == 300 * MB
    local = task("chunked", 250 * MB, 70 * MB, executor="local", node=300 * MB)
    assert scope_of(local) == "worker" and budget_figure(local) == 70 * MB
    shared = task("chunked", 250 * MB, 70 * MB, executor="local", node=300 * MB, scope=NODE)
    assert scope_of(shared) == NODE and budget_figure(shared) == 300 * MB


# --- point 4: decision cells -------------------------------------------------------------


def test_transfer_manager_750mb_x4_on_a_shared_node_does_not_fit() -> None:
    """Four children at 145 MB each sum to 580 MB: under 429.5 MB apiece (what the old rule
    judged), but the node the kernel charges reached 560 MB, over its 536.9 MB."""
    peaks = [145 * MB, 146 * MB, 144 * MB, 145 * MB]
    cell = cell_of(
        node_run("transfer-manager", 750 * MB, peaks, 560 * MB), "transfer-manager", 750 * MB
    )
    assert cell.verdict == OVER and cell.budget_peak_bytes == 560 * MB
    # with --repeat 3 one child of 12 was killed: a kill, whatever the other repeats did
    repeats = [
        *node_run("transfer-manager", 750 * MB, peaks, 420 * MB, repeat=0),
        *node_run("transfer-manager", 750 * MB, peaks, 530 * MB, repeat=1, killed=1),
        *node_run("transfer-manager", 750 * MB, peaks, 410 * MB, repeat=2),
    ]
    cell = cell_of(repeats, "transfer-manager", 750 * MB)
    assert cell.text == "1 of 12 killed"


def test_a_node_scoped_run_without_the_node_figure_is_unchecked_not_fits() -> None:
    # Celery lines written before the node's charged peak was measured: small per-worker
    # peaks prove nothing about the node
    cell = cell_of(node_run("chunked", 250 * MB, [70 * MB] * 4, None), "chunked", 250 * MB)
    assert cell.verdict == UNCHECKED


def test_local_read_all_fits_per_worker_but_not_on_a_shared_node() -> None:
    peaks = [300 * MB] * 4  # 1.2 GB together
    worker = node_run(
        "read-all", 250 * MB, peaks, None, executor="local", aggregate_peak_rss_bytes=1196 * MB
    )
    assert cell_of(worker, "read-all", 250 * MB).verdict == FITS  # each worker has its own cap
    shared = node_run("read-all", 250 * MB, peaks, 520 * MB, executor="local", scope=NODE, killed=3)
    assert cell_of(shared, "read-all", 250 * MB).text == "3 of 4 killed"


# --- point 4: speed breaks a tie only beyond the repeats' spread, never on moto -----------


def three_repeats(strategy: str, walls: list[float], backend: str) -> list[RunResult]:
    return [
        task(
            strategy,
            100 * MB,
            60 * MB,
            concurrency=1,
            repeat=i,
            wall=wall,
            node=200 * MB,
            backend=backend,
        )
        for i, wall in enumerate(walls)
    ]


def column_speed(results: list[RunResult]) -> Any:
    column = decide(Analysis(results), CAP).column(100 * MB, 1)
    assert column is not None
    return column.speed


def test_speed_breaks_a_tie_only_beyond_the_spread_and_not_on_moto() -> None:
    clear = [
        *three_repeats("chunked", [2.0, 2.1, 2.2], "s3rver"),
        *three_repeats("readinto", [1.0, 1.1, 1.2], "s3rver"),
    ]
    assert column_speed(clear).fastest == "readinto celery"
    close = [
        *three_repeats("chunked", [1.2, 1.5, 1.9], "s3rver"),
        *three_repeats("readinto", [1.0, 1.1, 1.7], "s3rver"),
    ]
    speed = column_speed(close)
    assert speed.fastest is None and set(speed.tied) == {"chunked celery", "readinto celery"}
    assert "spread" in speed.why
    on_moto = [
        *three_repeats("chunked", [2.0, 2.1, 2.2], "moto"),
        *three_repeats("readinto", [1.0, 1.1, 1.2], "moto"),
    ]
    speed = column_speed(on_moto)
    assert speed.fastest is None and "moto" in speed.why


def test_single_repeats_never_crown_read_all() -> None:
    """The README's example: read-all crowned at 100 MB x1 by 1.01 s against 1.05 s."""
    results = [
        task("read-all", 100 * MB, 152 * MB, concurrency=1, wall=1.01, node=200 * MB),
        task("chunked", 100 * MB, 70 * MB, concurrency=1, wall=1.05, node=120 * MB),
    ]
    speed = column_speed(results)
    assert speed.fastest is None and "one repeat" in speed.why


# --- point 4: the headline ---------------------------------------------------------------


def test_the_headline_is_memory_first_and_names_safe_sizes() -> None:
    sentence = headline(decide(Analysis(issue_matrix()), CAP))
    assert sentence.startswith(
        "chunked celery and readinto celery fit every measured column (250 MB to 2 GB at x1 "
        "and x4, 537 MB shared by each node's workers)"
    )
    assert "readinto celery is the fastest of them" in sentence
    assert (
        "read-all celery fits at measured sizes up to 250 MB at x1 (3 of 3 killed at 750 MB) "
        "and at no measured size at x4 (9 of 12 killed at 250 MB)" in sentence
    )
    assert (
        "range celery fits at measured sizes up to 2 GB at x1 (all) and at no measured size at x4"
        in sentence
    )
    assert sentence.endswith(".") and ". " not in sentence  # one sentence


def test_the_headline_says_equal_within_noise_on_moto() -> None:
    results = [
        task("chunked", 100 * MB, 70 * MB, concurrency=1, wall=2.0, backend="moto", node=150 * MB),
        task("readinto", 100 * MB, 60 * MB, concurrency=1, wall=1.0, backend="moto", node=150 * MB),
    ]
    sentence = headline(decide(Analysis(results), CAP))
    assert "equal within noise" in sentence and "fastest" not in sentence


# --- point 4: safe sizes -----------------------------------------------------------------


def safe_of(runs: list[RunResult]) -> fit.SafeSize:
    (series,) = Analysis(runs).group_by_series()
    return fit.safe_size(series, runs, CAP)


def test_a_kill_below_a_passing_size_is_no_inverted_interval() -> None:
    """range x4: 2 of 4 killed at 250 MB, every task ok at 750 MB and 2 GB."""
    runs = [
        *node_run("range", 250 * MB, [160 * MB] * 4, 500 * MB, killed=2),
        *node_run("range", 750 * MB, [160 * MB] * 4, 480 * MB),
        *node_run("range", 2 * GB, [160 * MB] * 4, 490 * MB),
    ]
    safe = safe_of(runs)
    assert safe.kind == "bracketed"
    assert safe.limit.largest_ok_bytes is None and safe.limit.smallest_failed_bytes == 250 * MB
    assert safe.limit.passed_above_bytes == (750 * MB, 2 * GB)
    assert "2 of 4 killed at 250 MB" in safe.statement
    assert "inconsistent" not in safe.statement


def test_a_strategy_killed_at_every_size_gets_no_line_estimate() -> None:
    runs = [
        *node_run("read-all", 250 * MB, [300 * MB] * 4, 530 * MB, killed=3),
        *node_run("read-all", 750 * MB, [300 * MB] * 4, 530 * MB, killed=4),
        *node_run("read-all", 2 * GB, [300 * MB] * 4, 530 * MB, killed=4),
    ]
    safe = safe_of(runs)
    assert "reaches the budget" not in safe.statement and "GB" not in safe.statement.split("(")[0]
    assert safe.statement.startswith("No safe size was measured")


def test_a_line_is_never_extrapolated_beyond_twice_the_largest_size() -> None:
    """A shallow line over three sizes would meet the budget at 29 GB: say 4 GB at most."""
    runs = [
        task(
            "transfer-manager",
            size,
            round(100 * MB + 0.015 * size),
            concurrency=1,
            executor="local",
        )
        for size in (250 * MB, 750 * MB, 2 * GB)
    ]
    safe = safe_of(runs)
    assert safe.kind == "fit" and safe.capped
    assert safe.safe_size_bytes == pytest.approx(4 * GB)
    assert "29" not in safe.statement and "at least 4 GB" in safe.statement


def test_intervals_are_never_inverted_nor_beyond_twice_the_largest() -> None:
    runs = [
        task(
            "read-all",
            size,
            round(52 * MB + 1.0 * size + (3 * MB if size == 200 * MB else 0)),
            concurrency=1,
            executor="local",
        )
        for size in (10 * MB, 100 * MB, 200 * MB, 300 * MB)
    ]
    safe = safe_of(runs)
    assert safe.interval is not None
    low, high = safe.interval
    assert low <= (safe.safe_size_bytes or 0) <= high <= 2 * 300 * MB


def test_the_shape_column_agrees_with_the_statement() -> None:
    """read-all x1 at two sizes, peaks 62.5 and 302.4 MB: not "constant: 182.4 MB"."""
    runs = [
        task("read-all", 10 * MB, 62_500_000, concurrency=1, executor="local"),
        task("read-all", 250 * MB, 302_400_000, concurrency=1, executor="local"),
    ]
    safe = safe_of(runs)
    assert safe.shape is not None and safe.shape.name == "constant"  # the only candidate
    assert safe.described_shape is None
    assert "cannot support a threshold" in safe.statement


# --- point 4: the budget questions -------------------------------------------------------


def in_memory_finding(results: list[RunResult]) -> budget.Finding | None:
    analysis = Analysis(results)
    answers = budget.answer_questions(analysis, fit.safe_sizes(analysis, CAP))
    found = [a for a in answers if a.question is budget.QUESTIONS[0]]
    return found[0].findings[0] if found else None


def test_below_100mb_is_not_answered_from_250mb_alone() -> None:
    results = node_run("read-all", 250 * MB, [300 * MB] * 4, 530 * MB, killed=3)
    results += node_run("read-all", 750 * MB, [300 * MB] * 4, 530 * MB, killed=4)
    assert in_memory_finding(results) is None  # nothing measured at or below 100 MB
    one_side = node_run("read-all", 50 * MB, [130 * MB] * 4, 474 * MB)
    finding = in_memory_finding(one_side)
    assert finding is not None and finding.verdict == "unclear"


def test_the_size_sweep_answers_no_below_100mb() -> None:
    """12 tasks per size x4: 50 MB all ok (node 474 MB), 75 MB 2/12 killed, 100 MB 3/12."""
    results: list[RunResult] = []
    for size, killed in ((50 * MB, 0), (75 * MB, 2), (100 * MB, 3)):
        for repeat in range(3):
            results += node_run(
                "read-all",
                size,
                [size + 80 * MB] * 4,
                474 * MB,
                killed=min(4, max(0, killed - 4 * repeat)),
                repeat=repeat,
            )
    finding = in_memory_finding(results)
    assert finding is not None and finding.verdict == "no"
    assert "Fails at 75 MB (2 of 12 killed), within the band" in finding.text
    cell = cell_of(results, "read-all", 50 * MB)
    assert cell.verdict == TIGHT  # the node at 474 MB: under 536.9 MB, inside the headroom


def test_a_green_yes_needs_sizes_on_both_sides() -> None:
    both = [
        *node_run("read-all", 50 * MB, [130 * MB] * 4, 400 * MB),
        *node_run("read-all", 150 * MB, [230 * MB] * 4, 420 * MB),
    ]
    finding = in_memory_finding(both)
    assert finding is not None and finding.verdict == "yes"
    assert "from 50 MB to 150 MB" in finding.text


# --- point 7: worker_max_memory_per_child ------------------------------------------------


# --- point 8: the gate -------------------------------------------------------------------


def test_the_gate_checks_the_node_and_fails_on_any_kill() -> None:
    fits = node_run("chunked", 250 * MB, [70 * MB] * 4, 330 * MB)
    verdict = evaluate(fits, budget_bytes=CAP)
    assert verdict.passed
    text = render_text(verdict)
    assert "node charged peak 330.0 MB within the node's budget, 0 of 4 killed" in text
    assert (
        "536.9 MB (512 MiB) by the node's charged peak per ok run, and any kill fails"
        in text.splitlines()[-1]
    )
    assert "node scope: node charged peak 330.0 MB" in render_markdown(verdict)
    # under the per-worker figure (145 MB a child) it would pass; the node is over
    over = node_run("transfer-manager", 750 * MB, [145 * MB] * 4, 560 * MB)
    verdict = evaluate(over, budget_bytes=CAP)
    assert not verdict.passed
    assert "node charged peak 560.0 MB > 536.9 MB" in verdict.failures[0].reasons[0]
    assert render_text(verdict).startswith("FAIL transfer-manager 750MB x4 celery")
    # a kill fails even where an expectation would excuse an oom per worker
    killed = node_run("read-all", 750 * MB, [300 * MB] * 4, 530 * MB, killed=1)
    expect = [Expectation("read-all", 500 * MB, "oom", "too big")]
    verdict = evaluate(killed, budget_bytes=CAP, expectations=expect)
    assert not verdict.passed
    assert "no expectation excuses a kill" in verdict.failures[0].reasons[0]
    # per worker the same expectation still excuses it
    local = node_run("read-all", 750 * MB, [300 * MB] * 4, None, executor="local", killed=4)
    assert evaluate(local, budget_bytes=CAP, expectations=expect).passed


def test_a_worker_scoped_pass_says_what_it_compared() -> None:
    results = [task("chunked", 250 * MB, 70 * MB, executor="local", concurrency=1)]
    verdict = evaluate(results, budget_bytes=CAP)
    last = render_text(verdict).splitlines()[-1]
    assert last.startswith("PASS: 1 cases") and "peak RSS per ok worker run" in last


def test_a_node_scoped_run_without_its_figure_cannot_pass_the_gate() -> None:
    """Celery lines written before the node's charged peak was measured: small worker peaks
    do not pass a node's budget."""
    verdict = evaluate(node_run("chunked", 250 * MB, [70 * MB] * 4, None), budget_bytes=CAP)
    assert not verdict.passed
    assert verdict.failures[0].reasons == (
        "4 ok runs recorded no node charged peak: the budget cannot be checked",
    )
    assert "node scope: node charged peak not recorded" in render_markdown(verdict)


def test_a_run_with_the_setting_says_what_it_recycled_and_what_stayed() -> None:
    limit = 140 * 2**20
    params: dict[str, Any] = {"executor_params": {"max_memory_per_child": limit}}
    results = [
        task(
            "transfer-manager",
            250 * MB,
            149 * MB,
            worker=0,
            task_index=0,
            concurrency=2,
            retained_rss_bytes=113 * MB,
            baseline_rss_bytes=86 * MB,
            recycled="max_memory_per_child: ru_maxrss 145508 KiB > 143360 KiB",
            **params,
        ),
        task(
            "transfer-manager",
            250 * MB,
            131 * MB,
            worker=1,
            task_index=0,
            concurrency=2,
            retained_rss_bytes=124 * MB,
            baseline_rss_bytes=86 * MB,
            **params,
        ),
    ]
    summary = " ".join(recycling.summary(recycling.recycling(Analysis(results))))
    assert "This run set it to 146.8 MB: 1 of 2 tasks passed it" in summary
    assert "stayed under it kept up to 124.0 MB for their next task" in summary


def test_the_gate_command_on_a_node_scoped_results_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`memharness gate DIR --budget 512MiB` on Celery lines read back from results.jsonl:
    the node's figure survives the round trip, a kill fails, and the summary says which."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    results = [
        *node_run("chunked", 250 * MB, [70 * MB] * 4, 330 * MB),
        *node_run("read-all", 250 * MB, [300 * MB] * 4, 530 * MB, killed=2),
    ]
    directory = write(tmp_path / "results", results)
    summary = tmp_path / "summary.md"
    assert gate(str(directory), "--budget", "512MiB", "--summary", str(summary)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL read-all 250MB x4 celery")
    assert (
        "node charged peak 530.0 MB against the node's budget 536.9 MB, 2 of 4 killed" in (lines[0])
    )
    assert any(
        line.startswith("PASS chunked 250MB x4 celery") and "node charged peak 330.0 MB" in line
        for line in lines
    )
    assert "by the node's charged peak per ok run, and any kill fails" in lines[-1]
    markdown = summary.read_text()
    assert "| chunked 250MB x4 celery | node scope: node charged peak 330.0 MB |" in markdown
