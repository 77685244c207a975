"""Runs grouped into cases and series, with a verdict for each case against the worker budget.

A *case* is one strategy on one object size at one concurrency (all its repeats and workers); a
*series* is one strategy at one concurrency across sizes, the unit the fit and the charts use.
The process step and the pool are part of both, so runs measured differently are never mixed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from memharness_s3.records import Expectation, RunResult


@dataclass(frozen=True, order=True)
class Series:
    """One strategy (with its process step and pool) at one concurrency, across sizes."""

    strategy: str
    concurrency: int
    process: str = "none"
    pool: str = "processes"

    @property
    def name(self) -> str:
        """The strategy, qualified with the process step and pool when they are not defaults."""
        extras = [f"+{self.process}"] if self.process != "none" else []
        extras += ["threads"] if self.pool == "threads" else []
        return " ".join([self.strategy, *extras])

    @property
    def label(self) -> str:
        """``name`` with the concurrency, e.g. ``read-all x4``."""
        return f"{self.name} x{self.concurrency}"


def series_of(result: RunResult) -> Series:
    """The series a run belongs to."""
    return Series(result.strategy, result.concurrency, result.process, result.pool)


@dataclass(frozen=True)
class CaseRow:
    """One case of the summary table: medians over its ok runs, statuses, verdict."""

    series: Series
    size_bytes: int
    runs: int
    statuses: dict[str, int]
    median_peak_bytes: float | None
    """Over the ok runs; over the failed runs' last peaks when none was ok."""
    max_peak_bytes: int | None
    """The largest peak of an ok run: what the budget verdict compares."""
    median_cost_bytes: float | None
    median_heap_bytes: float | None
    median_wall_s: float | None
    median_throughput_mb_s: float | None
    median_aggregate_bytes: float | None
    verdict: str
    """``ok``, ``over budget``, a failing status (``oom``, ``error``, ``timeout``), or that
    status prefixed with ``expected``; ``ok (expected oom)`` when an expected failure did not
    happen."""
    reason: str | None
    """The expectation's reason when one applies."""


def group_by_series(results: Iterable[RunResult]) -> dict[Series, list[RunResult]]:
    """Runs per series, series in sorted order."""
    groups: dict[Series, list[RunResult]] = {}
    for result in sorted(results, key=series_of):
        groups.setdefault(series_of(result), []).append(result)
    return groups


def group_by_size(runs: Iterable[RunResult]) -> dict[int, list[RunResult]]:
    """Runs per object size, smallest first."""
    groups: dict[int, list[RunResult]] = {}
    for result in sorted(runs, key=lambda r: r.size_bytes):
        groups.setdefault(result.size_bytes, []).append(result)
    return groups


def median_of(
    runs: Sequence[RunResult], value: Callable[[RunResult], float | None]
) -> float | None:
    """The median of ``value`` over the runs that have it, or None."""
    values = [v for v in map(value, runs) if v is not None]
    return statistics.median(values) if values else None


def summarize_cases(
    results: Sequence[RunResult], budget_bytes: int, expectations: Sequence[Expectation]
) -> list[CaseRow]:
    """One row per case, ordered by size, concurrency, then strategy."""
    rows = []
    for series, runs in group_by_series(results).items():
        for size, case_runs in group_by_size(runs).items():
            ok = [r for r in case_runs if r.status == "ok"]
            verdict, reason = _verdict(series, size, case_runs, budget_bytes, expectations)
            peaks = [r.peak_rss_bytes for r in ok if r.peak_rss_bytes is not None]
            shown = peaks or [r.peak_rss_bytes for r in case_runs if r.peak_rss_bytes is not None]
            rows.append(
                CaseRow(
                    series=series,
                    size_bytes=size,
                    runs=len(case_runs),
                    statuses=dict(Counter(r.status for r in case_runs)),
                    median_peak_bytes=statistics.median(shown) if shown else None,
                    max_peak_bytes=max(peaks) if peaks else None,
                    median_cost_bytes=median_of(ok, lambda r: r.strategy_cost_bytes),
                    median_heap_bytes=median_of(ok, lambda r: r.heap_peak_bytes),
                    median_wall_s=median_of(ok, lambda r: r.wall_s),
                    median_throughput_mb_s=median_of(ok, lambda r: r.throughput_mb_s),
                    median_aggregate_bytes=median_of(
                        case_runs, lambda r: r.aggregate_peak_rss_bytes
                    ),
                    verdict=verdict,
                    reason=reason,
                )
            )
    return sorted(rows, key=lambda row: (row.size_bytes, row.series.concurrency, row.series))


def _verdict(
    series: Series,
    size: int,
    runs: Sequence[RunResult],
    budget_bytes: int,
    expectations: Sequence[Expectation],
) -> tuple[str, str | None]:
    expected = next((e for e in expectations if e.matches(series.strategy, size)), None)
    failures = sorted({r.status for r in runs if r.status != "ok"})
    if failures:
        status = "oom" if "oom" in failures else failures[0]
        if expected is not None and expected.status == status:
            return f"expected {status}", expected.reason
        return status, None
    peaks = [r.peak_rss_bytes for r in runs if r.peak_rss_bytes is not None]
    verdict = "over budget" if peaks and max(peaks) > budget_bytes else "ok"
    if expected is not None and expected.status != "ok":
        return f"{verdict} (expected {expected.status})", expected.reason
    return verdict, None
