"""``render_report``: one self-contained ``index.html`` for a results directory.

This module turns the other report modules' dataclasses into display strings and hands them to
a Jinja2 template with autoescaping on: every value that came from a results line or meta.json
(object keys and error messages are free text) reaches the page as text, never as markup. The
page needs no network and no other file, except memray flamegraphs, which it links relatively.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from memharness_s3.analysis import recycling, wire_share
from memharness_s3.analysis.budget_scope import (
    NODE,
    figure_name,
    node_charged_peak,
    node_idle,
    scope_of,
)
from memharness_s3.analysis.cases import Analysis, CaseRuns, Series, median_of
from memharness_s3.analysis.caveats import (
    NOT_MEASURED_BY_BACKEND,
    WHY_NOT_MEASURED,
    caveats,
    unmeasured_by_backend,
)
from memharness_s3.analysis.decision import Cell, Column, Decision, decide, scope_words
from memharness_s3.analysis.headline import headline
from memharness_s3.analysis.shapes import Shape
from memharness_s3.analysis.verdicts import NOT_MEASURED, UNCHECKED, judge
from memharness_s3.config.sizes import format_mb, format_size
from memharness_s3.model.records import INFRA, Expectation, RunResult
from memharness_s3.paths import starts_with, write_no_follow
from memharness_s3.results.loader import ResultsDir
from memharness_s3.views.html import charts, fit, largest_safe
from memharness_s3.views.html.budget import answer_questions, median_baselines
from memharness_s3.views.html.source import Budget, load_source, resolve_budget

REPORT_FILE = "index.html"
MAX_RUN_ROWS = 2000
"""Lines the "every run" table lists at most (results.jsonl keeps every one)."""

_ENV = Environment(
    loader=PackageLoader("memharness_s3.views.html", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class RunRow:
    """One results line as the "every run" table shows it."""

    cells: list[str]
    status: str
    object_key: str
    error: str | None
    flamegraph: str | None
    """A relative link to the run's memray flamegraph, when it has a safe one."""


def render_report(results_dir: Path, budget_bytes: int | None = None) -> Path:
    """Write ``results_dir/index.html`` from the results there and return its path.

    ``budget_bytes`` overrides the per-worker budget (default: the run's memory limit, else
    512 MiB). A missing directory, a missing or empty results.jsonl, or a line that is not a
    result raises UsageError with one line.
    """
    source = load_source(results_dir)
    budget = resolve_budget(source, budget_bytes)
    html = _ENV.get_template("report.html.j2").render(**_context(source, budget))
    path = results_dir / REPORT_FILE
    write_no_follow(path, html, owned=_is_report)
    return path


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report memharness wrote (its title says so), so may be replaced."""
    return starts_with(path, b"<title>memharness report: ")


def _context(source: ResultsDir, budget: Budget) -> dict[str, Any]:
    results = source.results
    analysis = Analysis(results)
    safe = fit.safe_sizes(analysis, budget.bytes)
    expectations = source.meta.expectations
    heap = any(r.heap_peak_bytes is not None for r in results)
    celery = any(r.executor == "celery" for r in results)
    listed = _listed_runs(results)
    runs = [_run_row(source.path, r, heap, celery) for r in listed]
    unmeasured = _unmeasured(analysis, source.meta.raw)
    decision = decide(analysis, budget.bytes, greyed={series.name for series in unmeasured})
    recycled = recycling.recycling(analysis)
    return {
        "headline": headline(decision),
        "decision": _decision(decision, budget),
        "recycling": {
            "summary": recycling.summary(recycled),
            "rows": [_recycling_row(row) for row in recycled if row.worth_saying],
        },
        "caveats": caveats(analysis, source.meta.raw),
        "largest_safe": largest_safe.section(source.path),
        "title": f"memharness report: {source.path.resolve().name}",
        "overview": _overview(results),
        "environment": _environment(source),
        "budget": _budget_line(budget, results),
        "headroom": _headroom_line(results, budget),
        "answers": answer_questions(analysis, safe),
        "fits": [_fit_row(s, s.series in unmeasured) for s in safe],
        "criteria": {"min_r_squared": fit.MIN_R_SQUARED, "flat_slope": fit.FLAT_SLOPE},
        "case_columns": _case_columns(heap),
        "cases": [
            _case_row(
                c, budget.bytes, expectations, heap, analysis.series_of(c.first) in unmeasured
            )
            for c in analysis.cases
        ],
        "expectations": [
            f"{e.strategy} at {format_size(e.min_size_bytes)} and above: {e.status} ({e.reason})"
            for e in expectations
        ],
        "charts": _charts(analysis, source.path, budget.bytes),
        "run_columns": [c for c in RUN_COLUMNS if heap or c != "heap"]
        + (CELERY_RUN_COLUMNS if celery else []),
        "runs": runs,
        "runs_not_listed": len(results) - len(listed),
        "flamegraphs": [r for r in runs if r.flamegraph],
    }


def _listed_runs(results: Sequence[RunResult]) -> list[RunResult]:
    """The lines the "every run" table lists: all of them up to :data:`MAX_RUN_ROWS`; past it,
    the failed ones first, then the first ok ones, in file order (the page stays small)."""
    if len(results) <= MAX_RUN_ROWS:
        return list(results)
    order = sorted(range(len(results)), key=lambda i: results[i].status == "ok")
    return [results[i] for i in sorted(order[:MAX_RUN_ROWS])]


def _unmeasured(analysis: Analysis, meta: dict[str, Any]) -> set[Series]:
    """The series whose backend could not measure what they do (textract-direct against moto's
    Textract): they are shown greyed, and no verdict is drawn for them."""
    return {analysis.series_of(r) for r in analysis.results if unmeasured_by_backend(r, meta)}


def _charts(analysis: Analysis, results_dir: Path, budget_bytes: int) -> list[charts.Chart]:
    """The charts the run has data for: peak against size needs two sizes, the aggregate
    against concurrency two concurrency levels, throughput a strategy that downloads, retained
    RSS against task index a Celery child that ran more than one task."""
    results = analysis.results
    drawn = []
    if len({r.size_bytes for r in results if r.size_bytes > 0}) > 1:
        drawn.append(charts.peak_vs_size(analysis, budget_bytes))
    drawn.append(charts.rss_timelines(analysis, results_dir, budget_bytes))
    if len({r.concurrency for r in results}) > 1:
        drawn.append(charts.aggregate_vs_concurrency(analysis, budget_bytes))
    if any(r.throughput_mb_s for r in results):
        drawn.append(charts.throughput(analysis))
    if any(r.task_index for r in results):
        drawn.append(charts.retained_vs_task_index(analysis))
    return drawn


def _decision(decision: Decision, budget: Budget) -> dict[str, Any]:
    """The decision matrix as the template shows it: a row per strategy, a column per size x
    concurrency, each cell a verdict chip and its costs; a clearly fastest fitting one starred.
    A strategy the backend could not measure (``decision.greyed``) is greyed, never fits or is
    starred."""
    greyed = decision.greyed
    columns = [
        {
            "title": f"{format_size(c.size_bytes)} \u00d7 {c.concurrency}",
            "answer": _answer(c, greyed),
        }
        for c in decision.columns
    ]
    rows = []
    for strategy in decision.strategies:
        cells = []
        for column in decision.columns:
            cell = next((c for c in column.cells if c.strategy == strategy), None)
            cells.append(
                None
                if cell is None
                else _decision_cell(
                    cell, column.fastest == strategy and strategy not in greyed, strategy in greyed
                )
            )
        rows.append({"strategy": strategy, "cells": cells})
    limit = (1 - decision.headroom) * budget.bytes
    scopes = {cell.scope for column in decision.columns for cell in column.cells}
    figures = " for worker scope, ".join(
        figure_name(scope) for scope in ("worker", NODE) if scope in scopes
    )
    figures += " for node scope" if NODE in scopes and len(scopes) > 1 else ""
    legend = (
        f"fits: no run killed across the repeats, every run ok, and the {figures} at most "
        f"{format_mb(limit)} MB ({decision.headroom:.0%} headroom under the "
        f"{format_mb(budget.bytes)} MB budget, {scope_words(scopes)}); tight: under the budget "
        "but inside the headroom; over: over the budget; k of n killed: the kernel killed k of "
        "the n runs (tasks); failed: a run ended error or timeout; unchecked: ok runs that "
        "recorded no node charged peak. \u2605 the fastest that fits, only when it is faster "
        "than every other that fits by more than the spread of their repeats, and never on moto "
        "(otherwise: equal within noise)."
    )
    if greyed:
        legend += (
            f" {NOT_MEASURED_BY_BACKEND}: the backend cannot measure what the strategy does "
            "(see below), so it gets no verdict."
        )
    return {"columns": columns, "rows": rows, "legend": legend}


def _answer(column: Column, greyed: frozenset[str]) -> str:
    fitting = [c for c in column.fitting if c.strategy not in greyed]
    if not fitting:
        return "nothing fits with headroom"
    speed = column.speed
    if speed.fastest is not None:
        best = next(c for c in fitting if c.strategy == speed.fastest)
        return (
            f"{best.strategy}: {_figure(best)}, {_number(best.median_wall_s, 2)} s "
            f"({len(fitting)} fit)"
        )
    if speed.tied:
        return f"{len(fitting)} fit; equal within noise: {', '.join(speed.tied)}"
    return f"{len(fitting)} fit, none downloads"


def _figure(cell: Cell) -> str:
    """The cell's budget figure: ``peak 60.8 MB`` (per worker) or ``node 474.0 MB``."""
    word = "node" if cell.scope == NODE else "peak"
    return f"{word} {format_mb(cell.budget_peak_bytes)} MB"


def _decision_cell(cell: Cell, fastest: bool, greyed: bool) -> dict[str, Any]:
    costs = [_figure(cell)]
    if cell.scope == NODE:
        costs.append(f"worker peak {format_mb(cell.max_peak_bytes)} MB")
    costs.append(f"+{format_mb(cell.median_cost_bytes)} over idle")
    if cell.temp_peak_bytes:
        costs.append(f"temp {format_mb(cell.temp_peak_bytes)} MB")
    if cell.median_wall_s is not None:
        costs.append(f"{_number(cell.median_wall_s, 2)} s")
    if cell.requests is not None:
        costs.append(f"{cell.requests:g} request{'' if cell.requests == 1 else 's'}")
    if cell.verdict in ("failed", "killed", "not measured"):
        costs = [", ".join(f"{n} {status}" for status, n in cell.statuses.items())]
    if cell.statuses.get(INFRA):
        costs.append(f"{cell.statuses[INFRA]} {INFRA}: backend unresponsive, re-run")
    return {
        "verdict": NOT_MEASURED_BY_BACKEND if greyed else cell.text,
        "class": "unmeasured" if greyed else cell.verdict.replace(" ", "-"),
        "fastest": fastest,
        "costs": " \u00b7 ".join(costs),
    }


def _recycling_row(row: recycling.Recycling) -> dict[str, str]:
    return {
        "case": row.label,
        "killed": f"{row.killed} of {row.measured}",
        "peak": format_mb(row.in_task_peak_bytes),
        "killed_peak": format_mb(row.killed_peak_bytes),
        "killed_node": format_mb(row.killed_node_bytes),
        "retained": format_mb(row.retained_bytes),
        "fresh": format_mb(row.fresh_idle_bytes),
        "effect": row.effect,
    }


def _overview(results: Sequence[RunResult]) -> str:
    sizes = sorted({r.size_bytes for r in results})
    levels = [str(c) for c in sorted({r.concurrency for r in results})]
    statuses = Counter(r.status for r in results)
    counted = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    span = format_size(sizes[0]) + (f" to {format_size(sizes[-1])}" if len(sizes) > 1 else "")
    concurrency = " and ".join([", ".join(levels[:-1]), levels[-1]] if len(levels) > 1 else levels)
    return (
        f"{len(results)} runs ({counted}) of {len({r.strategy for r in results})} strategies "
        f"on objects of {span}, at concurrency {concurrency}"
    )


def _environment(source: ResultsDir) -> list[tuple[str, str]]:
    """meta.json's description of the machine and run, label by label, as text."""
    meta = source.meta.raw
    if not meta:
        return [("meta.json", "missing: the environment was not recorded")]
    packages = meta.get("packages")
    cap = "none"
    if source.meta.memory_limit_bytes:
        enforcement = meta.get("cap_enforcement") or "unknown"
        scopes = scope_words({scope_of(r) for r in source.results})
        cap = f"{_both_units(source.meta.memory_limit_bytes)} {scopes}, enforced by {enforcement}"
    memory = meta.get("total_memory_bytes")
    pairs = [
        ("Python", meta.get("python")),
        (
            "Packages",
            ", ".join(f"{name} {ver}" for name, ver in sorted(packages.items()))
            if isinstance(packages, dict)
            else None,
        ),
        ("Backend", meta.get("backend")),
        ("Endpoint", meta.get("endpoint_url")),
        ("CPUs", meta.get("cpu_count")),
        ("Memory", format_size(memory) if isinstance(memory, int) else memory),
        ("Cap", cap),
        ("Executor", _executor(meta.get("executor"))),
        ("Platform", meta.get("platform")),
        ("Measured at", meta.get("timestamp")),
    ]
    return [(label, str(value)) for label, value in pairs if value is not None]


def _executor(described: Any) -> str | None:
    """meta.json's executor: a name (older runs) or ``{"name", "broker"}``."""
    if isinstance(described, dict):
        broker = described.get("broker")
        name = str(described.get("name"))
        return f"{name}, broker {broker}" if broker else name
    return None if described is None else str(described)


def _both_units(num_bytes: int) -> str:
    """``537 MB (512 MiB)``: the decimal size, and the binary one when it is round."""
    text = format_size(num_bytes)
    if num_bytes % 2**20 == 0:
        text += f" ({num_bytes // 2**20} MiB)"
    return text


def _budget_line(budget: Budget, results: Sequence[RunResult]) -> str:
    """The budget, what it applies to and which figure is held against it, scope by scope."""
    scopes = {scope_of(r) for r in results}
    said = []
    if "worker" in scopes:
        said.append("per worker (each worker's peak RSS is held against it)")
    if NODE in scopes:
        said.append(
            "per node, shared by its workers (the node's charged peak, resident memory without "
            "page cache as the kernel counts it, is held against it)"
        )
    return f"{_both_units(budget.bytes)} {' and '.join(said)}: {budget.origin}"


def _headroom_line(results: Sequence[RunResult], budget: Budget) -> str:
    """What an idle worker (worker scope) or an idle node (node scope, per concurrency) takes,
    each with what it leaves of the budget."""
    said = []
    # A local worker starts fresh whatever the scope: its idle RSS is part of what it charges.
    worker = [r for r in results if scope_of(r) == "worker" or r.executor == "local"]
    groups: dict[int, list[str]] = {}
    for strategy, base in median_baselines(worker).items():
        groups.setdefault(round(base / 1e6), []).append(strategy)
    if groups:
        said.append(
            "Idle worker (RSS after imports and client creation): "
            + "; ".join(
                f"{mb} MB for {', '.join(names)}, leaving {format_size(budget.bytes - mb * 1e6)}"
                for mb, names in sorted(groups.items())
            )
        )
    node = [r for r in results if scope_of(r) == NODE]
    idle: dict[int, list[RunResult]] = {}
    for result in node:
        idle.setdefault(result.concurrency, []).append(result)
    floors = [
        (level, floor)
        for level, runs in sorted(idle.items())
        if (floor := median_of(runs, node_idle)) is not None and floor > 0
    ]
    if floors:
        said.append(
            "Idle node (the node's charged memory just before a run, main process and idle "
            "children): "
            + "; ".join(
                f"{format_mb(floor)} MB at x{level}, leaving {format_size(budget.bytes - floor)}"
                for level, floor in floors
            )
        )
    elif any(r.executor != "local" for r in node):
        said.append("Idle node: not recorded by these runs")
    return ". ".join(said)


def _fit_row(safe: fit.SafeSize, unmeasured: bool) -> dict[str, str]:
    if unmeasured:
        verdict = NOT_MEASURED_BY_BACKEND
    elif safe.kind == "fit" and safe.capped and safe.safe_size_bytes is not None:
        verdict = f"\u2265 {format_size(safe.safe_size_bytes)}"
    elif safe.kind == "fit" and safe.safe_size_bytes is not None:
        verdict = format_size(max(0.0, safe.safe_size_bytes))
        if safe.interval is not None and safe.safe_size_bytes > 0:
            low, high = safe.interval
            verdict += f" ({format_size(low)} \u2013 {format_size(high)})"
    elif safe.kind == "flat":
        verdict = f"no limit up to {format_size(max(size for size, _ in safe.points))}"
    elif safe.kind == "bracketed" and safe.limit.largest_ok_bytes is not None:
        verdict = (
            f"{format_size(safe.limit.largest_ok_bytes)} \u2013 "
            f"{format_size(safe.limit.smallest_failed_bytes or 0)}"
        )
    elif safe.kind == "bracketed" and safe.limit.smallest_failed_bytes is not None:
        verdict = f"none (fails at {format_size(safe.limit.smallest_failed_bytes)})"
    elif safe.kind == "bracketed" and safe.shape is not None and safe.shape.name == "step":
        verdict = f"{format_size(safe.shape.params[2])} \u2013 {format_size(safe.shape.params[3])}"
    else:
        verdict = "cannot tell"
    return {
        "series": safe.series.label,
        "sizes": str(len(safe.points)),
        "shape": _shape_text(safe.described_shape) if safe.points else "-",
        "safe": verdict,
        "largest_ok": _size_or_dash(safe.oom.largest_ok_bytes),
        "smallest_oom": _size_or_dash(safe.oom.smallest_failed_bytes),
        "statement": f"{WHY_NOT_MEASURED}." if unmeasured else safe.statement,
    }


def _shape_text(shape: Shape | None) -> str:
    """The chosen model and its parameters, e.g. ``linear: 52 MB + 1.00 x size``; ``cannot
    tell`` when the data has no shape to speak of (``SafeSize.described_shape``)."""
    if shape is None:
        return "cannot tell"
    if shape.name == "constant":
        return f"constant: {format_mb(shape.params[0])} MB"
    if shape.name == "linear":
        return f"linear: {format_mb(shape.params[0])} MB + {shape.params[1]:.2f} x size"
    low, high, below, at = shape.params
    return (
        f"step: {format_mb(low)} \u2192 {format_mb(high)} MB between {format_size(below)} and "
        f"{format_size(at)}"
    )


def _size_or_dash(num_bytes: int | None) -> str:
    return "-" if num_bytes is None else format_size(num_bytes)


def _case_columns(heap: bool) -> list[str]:
    columns = ["case", "runs", "statuses", "median peak MB"]
    columns += ["median peak-base MB"]
    if heap:
        columns.append("median heap MB")
    return [
        *columns,
        "median wall s",
        "median MB/s",
        "of wire",
        "node peak MB",
        "verdict, figure/budget",
    ]


def _case_row(
    case: CaseRuns,
    budget_bytes: int,
    expectations: Sequence[Expectation],
    heap: bool,
    unmeasured: bool,
) -> dict[str, Any]:
    judgement = judge(case, budget_bytes, expectations)
    peak = format_mb(case.shown_peak)
    if case.shown_peak is not None and not case.statuses.get("ok"):
        peak = f"({peak})"
    cells = [
        case.label,
        str(case.run_count),
        ", ".join(f"{n} {status}" for status, n in case.statuses.items()),
        peak,
        format_mb(case.median_ok(lambda r: r.strategy_cost_bytes)),
    ]
    if heap:
        cells.append(format_mb(case.median_ok(lambda r: r.heap_peak_bytes)))
    cells += [
        _number(case.median_ok(lambda r: r.wall_s), 2),
        _number(case.median_ok(lambda r: r.throughput_mb_s), 1),
        wire_share.text(case.median_ok(wire_share.shown_of_wire)),
        format_mb(median_of(case.runs, node_charged_peak)),
    ]
    figure = case.budget_peak
    share = "" if figure is None else f"{figure / budget_bytes:.0%}"
    reason = judgement.expectation.reason if judgement.expectation else ""
    verdict, verdict_class = judgement.verdict, _verdict_class(judgement.verdict)
    if unmeasured:
        verdict, verdict_class, reason, share = NOT_MEASURED_BY_BACKEND, "not-measured", "", ""
    return {
        "group": f"{case.key.size_bytes}x{case.key.concurrency}",
        "cells": cells,
        "verdict": verdict,
        "verdict_class": verdict_class,
        "reason": reason,
        "share": share,
    }


def _verdict_class(verdict: str) -> str:
    if verdict.startswith("expected"):
        return "expected"
    if verdict in (NOT_MEASURED, UNCHECKED):
        return "not-measured"
    if "(expected" in verdict:
        return "warn"
    return {"ok": "ok", "over budget": "over"}.get(verdict, "fail")


RUN_COLUMNS = [
    "run",
    "strategy",
    "object",
    "conc",
    "worker",
    "rep",
    "status",
    "peak",
    "base",
    "peak-base",
    "sampled",
    "aggr",
    "heap",
    "wall s",
    "MB/s",
    "of wire",
    "verified",
    "tmp peak",
    "left",
]


CELERY_RUN_COLUMNS = ["node", "task", "kept", "deliveries"]
"""Celery runs: the node, the child's task count before this task, the RSS the child kept after
it (MB), and how many times the task was delivered."""


def _run_row(results_dir: Path, run: RunResult, heap: bool, celery: bool) -> RunRow:
    cells = [
        run.run_id,
        run.strategy + (f" +{run.process}" if run.process != "none" else ""),
        format_size(run.size_bytes),
        str(run.concurrency) + (" threads" if run.pool == "threads" else ""),
        str(run.worker),
        str(run.repeat),
        run.status,
        format_mb(run.peak_rss_bytes),
        format_mb(run.baseline_rss_bytes),
        format_mb(run.strategy_cost_bytes),
        format_mb(run.sampled_peak_rss_bytes),
        format_mb(run.aggregate_peak_rss_bytes),
        *([format_mb(run.heap_peak_bytes)] if heap else []),
        _number(run.wall_s, 2),
        _number(run.throughput_mb_s, 1),
        wire_share.text(wire_share.shown_of_wire(run)),
        {True: "yes", False: "NO", None: "-"}[run.verified],
        format_mb(run.temp_peak_bytes),
        str(run.temp_files_left),
    ]
    if celery:
        cells += [
            run.node or "-",
            "-" if run.task_index is None else str(run.task_index),
            format_mb(run.retained_rss_bytes),
            "-" if run.deliveries is None else str(run.deliveries),
        ]
    return RunRow(
        cells=cells,
        status=run.status,
        object_key=run.object_key,
        error=run.error,
        flamegraph=_relative_link(results_dir, run.flamegraph_file),
    )


def _relative_link(results_dir: Path, relative: str | None) -> str | None:
    """A URL-quoted relative link to a file inside the results dir, or None when the path is
    absent, absolute, leaves the directory or does not exist (it comes from a results line)."""
    if not relative:
        return None
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        return None
    if not (results_dir / pure).is_file():
        return None
    return quote(pure.as_posix())


def _number(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"
