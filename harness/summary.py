"""Per-case summary of repeated or concurrent runs: median and spread (a view over results)."""

from __future__ import annotations

from collections.abc import Sequence

from memharness_s3.analysis.cases import Analysis, median_of
from memharness_s3.config.sizes import format_mb
from memharness_s3.model.records import RunResult
from memharness_s3.printable import printable


def render_summary(results: Sequence[RunResult]) -> str:
    """One row per case (as the analysis layer names it): runs, statuses, median peak and its
    min-max spread, median wall time, median aggregate peak."""
    rows = [
        [
            "case",
            "runs",
            "statuses",
            "median peak MB",
            "spread MB",
            "median wall s",
            "aggregate MB",
        ]
    ]
    for case in Analysis(results).cases:
        peaks = [r.peak_rss_bytes for r in case.runs if r.peak_rss_bytes is not None]
        wall = case.median_ok(lambda r: r.wall_s)
        aggregate = median_of(case.runs, lambda r: r.aggregate_peak_rss_bytes)
        rows.append(
            [
                printable(case.label),
                str(case.run_count),
                ",".join(case.statuses),
                format_mb(case.shown_peak),
                format_mb(max(peaks) - min(peaks)) if len(peaks) > 1 else "-",
                f"{wall:.2f}" if wall is not None else "-",
                format_mb(aggregate),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i in (0, 2) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
