"""A plain-text table of run results (a view: it reads results, never measures)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from memharness_s3.analysis import wire_share
from memharness_s3.analysis.cases import Analysis
from memharness_s3.config.sizes import format_mb, format_size
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.printable import printable

Column = tuple[str, str, Callable[[RunResult], str]]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


COLUMNS: list[Column] = [
    ("strategy", "<", lambda r: r.strategy),
    ("object", ">", lambda r: format_size(r.size_bytes)),
    ("conc", ">", lambda r: str(r.concurrency) + ("t" if r.pool == "threads" else "")),
    ("w", ">", lambda r: str(r.worker)),
    ("process", "<", lambda r: r.process),
    ("status", "<", lambda r: r.status),
    ("peak MB", ">", lambda r: format_mb(r.peak_rss_bytes)),
    ("base MB", ">", lambda r: format_mb(r.baseline_rss_bytes)),
    ("peak-base", ">", lambda r: format_mb(r.strategy_cost_bytes)),
    ("sampled MB", ">", lambda r: format_mb(r.sampled_peak_rss_bytes)),
    ("aggr MB", ">", lambda r: format_mb(r.aggregate_peak_rss_bytes)),
    ("wall s", ">", lambda r: _seconds(r.wall_s)),
    ("MB/s", ">", lambda r: "-" if r.throughput_mb_s is None else f"{r.throughput_mb_s:.1f}"),
    ("of wire", ">", lambda r: wire_share.text(wire_share.shown_of_wire(r))),
    ("verified", "<", lambda r: {True: "yes", False: "NO", None: "-"}[r.verified]),
    ("tmp peak MB", ">", lambda r: format_mb(r.temp_peak_bytes)),
    ("left", ">", lambda r: str(r.temp_files_left)),
]
CELERY_COLUMNS: list[Column] = [
    ("node", "<", lambda r: (r.node or "-").split("@")[0]),
    ("task", ">", lambda r: "-" if r.task_index is None else str(r.task_index)),
    ("kept MB", ">", lambda r: format_mb(r.retained_rss_bytes)),
    ("deliv", ">", lambda r: "-" if r.deliveries is None else str(r.deliveries)),
]
"""Celery runs: the node, the child's task count before this task, the RSS it kept after, and
how many times the task was delivered."""
HEAP_COLUMN: Column = ("heap MB", ">", lambda r: format_mb(r.heap_peak_bytes))
FAULT_COLUMNS: list[Column] = [
    ("fault", "<", lambda r: r.fault or "-"),
    ("injected", ">", lambda r: "-" if r.fault_injected is None else str(r.fault_injected)),
    ("retries", ">", lambda r: str(r.retries)),
]


def render(results: Sequence[RunResult]) -> str:
    """Fixed-width table, one row per worker run, followed by each failed run's error."""
    columns = list(COLUMNS)
    if any(r.heap_peak_bytes is not None for r in results):
        columns.insert(8, HEAP_COLUMN)
    if any(r.fault for r in results):
        columns[6:6] = FAULT_COLUMNS
    if any(r.executor == "celery" for r in results):
        columns[4:4] = CELERY_COLUMNS
    rows = [
        [name for name, _, _ in columns],
        *([printable(cell(r)) for _, _, cell in columns] for r in results),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = []
    for index, cells in enumerate(rows):
        parts = [
            cell.ljust(width) if align == "<" else cell.rjust(width)
            for cell, width, (_, align, _) in zip(cells, widths, columns, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    failures = [r for r in results if r.error]
    if failures:
        lines.append("")
        lines.extend(
            printable(
                f"{r.strategy} {format_size(r.size_bytes)} x{r.concurrency} worker {r.worker}"
                f"{f' ({r.fault})' if r.fault else ''}: {r.status}: {r.error}",
                3000,
            )
            for r in failures
        )
    caps = sorted(
        {
            f"{format_size(r.memory_limit_bytes)} ({r.cap_enforcement})"
            for r in results
            if r.memory_limit_bytes
        }
    )
    lines.append("")
    if caps:
        lines.append(f"memory cap per worker: {', '.join(caps)}")
    if any(r.status == INFRA for r in results):
        lines.append(
            f"{INFRA} = the backend stopped answering during the run (the harness's fault, not "
            "the strategy's); such a run is re-run once and its re-run is the one that counts"
        )
    if any(r.executor == "celery" for r in results):
        lines.append(
            "celery: peak and base are the task's own (VmHWM reset at task start in a long-lived "
            "child); task = tasks the child ran before this one; kept = its RSS after the task"
        )
    lines.append(
        "peak = kernel high-water mark (VmHWM) of the worker; base = RSS after imports and client "
        "creation; aggr = largest sum of the case's workers' simultaneous RSS samples; "
        "of wire = MB/s as a share of a plain GET of the same object (wire_mb_s); "
        "MB = 10^6 bytes"
    )
    hidden = wire_share.hidden_on(results)
    if hidden:
        lines.append(
            f"of wire is not shown on {', '.join(hidden)}: its server reads the whole object "
            "into memory on every GET, so a plain GET from it measures the server, not the wire"
        )
    above = wire_share.above_wire_caveat(Analysis(results))
    if above:
        lines.append(above)
    return "\n".join(lines)
