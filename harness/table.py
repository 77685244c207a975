"""A plain-text table of run results (a view: it reads results, never measures)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.records import RunResult
from harness.sizes import format_mb, format_size

COLUMNS = (
    ("strategy", "<"),
    ("object", ">"),
    ("process", "<"),
    ("status", "<"),
    ("peak MB", ">"),
    ("base MB", ">"),
    ("peak-base", ">"),
    ("sampled MB", ">"),
    ("wall s", ">"),
    ("MB/s", ">"),
    ("verified", "<"),
    ("temp left", ">"),
)


def row(result: RunResult) -> list[str]:
    verified = {True: "yes", False: "NO", None: "-"}[result.verified]
    return [
        result.strategy,
        format_size(result.size_bytes),
        result.process,
        result.status,
        format_mb(result.peak_rss_bytes),
        format_mb(result.baseline_rss_bytes),
        format_mb(result.strategy_cost_bytes),
        format_mb(result.sampled_peak_rss_bytes),
        "-" if result.wall_s is None else f"{result.wall_s:.2f}",
        "-" if result.throughput_mb_s is None else f"{result.throughput_mb_s:.1f}",
        verified,
        str(result.temp_files_left),
    ]


def render(results: Sequence[RunResult]) -> str:
    """Fixed-width table, one row per run, followed by each failed run's error."""
    rows = [[name for name, _ in COLUMNS], *(row(r) for r in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, cells in enumerate(rows):
        parts = [
            cell.ljust(width) if align == "<" else cell.rjust(width)
            for cell, width, (_, align) in zip(cells, widths, COLUMNS, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    failures = [r for r in results if r.error]
    if failures:
        lines.append("")
        lines.extend(
            f"{r.strategy} {format_size(r.size_bytes)}: {r.status}: {r.error}" for r in failures
        )
    lines.append("")
    lines.append(
        "peak = kernel high-water mark (VmHWM) of the worker; base = RSS after imports and client "
        "creation; MB = 10^6 bytes"
    )
    return "\n".join(lines)
