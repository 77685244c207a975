"""Per-case summary of repeated runs: median and spread (a view over results)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from itertools import groupby

from memharness_s3.records import RunResult
from memharness_s3.sizes import format_mb, format_size


def render_summary(results: Sequence[RunResult]) -> str:
    """One row per case: runs, statuses, median peak and its min-max spread, median wall."""

    def key(r: RunResult) -> tuple[int, int, str, str]:
        return (r.size_bytes, r.concurrency, r.strategy, r.case_id)

    rows = [
        [
            "strategy",
            "object",
            "conc",
            "runs",
            "statuses",
            "median peak MB",
            "spread MB",
            "median wall s",
            "aggregate MB",
        ]
    ]
    for (size, concurrency, strategy, _), group in groupby(sorted(results, key=key), key=key):
        runs = list(group)
        statuses = ",".join(sorted({r.status for r in runs}))
        peaks = [r.peak_rss_bytes for r in runs if r.peak_rss_bytes is not None]
        walls = [r.wall_s for r in runs if r.wall_s is not None]
        aggregates = [r.aggregate_peak_rss_bytes for r in runs if r.aggregate_peak_rss_bytes]
        rows.append(
            [
                strategy,
                format_size(size),
                str(concurrency),
                str(len({(r.repeat, r.group_id) for r in runs})),
                statuses,
                format_mb(statistics.median(peaks)) if peaks else "-",
                f"{format_mb(max(peaks) - min(peaks))}" if len(peaks) > 1 else "-",
                f"{statistics.median(walls):.2f}" if walls else "-",
                format_mb(statistics.median(aggregates)) if aggregates else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i > 1 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
