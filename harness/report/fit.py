"""Peak RSS against object size: a least-squares line per series, and the safe size it implies.

The question a worker's owner asks is "up to what object size does this strategy stay under my
budget?". A straight line ``peak = a + b * size`` answers it when the data supports one: enough
distinct sizes, a good fit, and no run that already failed. This module says plainly when the
data cannot support a threshold, and then reports what the data does show: the largest size that
fit and the smallest that did not. Pure functions over results, dataclass answers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import Analysis, Series, group_by_size
from memharness_s3.records import RunResult
from memharness_s3.sizes import format_size

MIN_SIZES = 3
"""Fewer distinct sizes than this cannot tell a line from any other curve."""
MIN_R_SQUARED = 0.9
"""Below this the line explains too little of the peaks to extrapolate a threshold from it."""
FLAT_SLOPE = 0.01
"""A slope below this (the peak grows by under 1% of the object's size) counts as flat."""


@dataclass(frozen=True)
class LinearFit:
    """``peak = intercept + slope * size`` fitted by least squares over (size, median peak)."""

    intercept_bytes: float
    slope: float
    """Bytes of peak RSS per byte of object."""
    r_squared: float | None
    """None when every peak is equal: there is no variance to explain."""
    sizes: int

    def reaches(self, budget_bytes: float) -> float | None:
        """The object size at which the line meets ``budget_bytes``; None when it never rises."""
        if self.slope <= 0:
            return None
        return (budget_bytes - self.intercept_bytes) / self.slope


@dataclass(frozen=True)
class Boundary:
    """Where runs stopped passing: the largest size that passed, the smallest that failed."""

    largest_ok_bytes: int | None
    smallest_failed_bytes: int | None

    @property
    def mixed(self) -> bool:
        """Whether some size passed above a size that failed (noisy or inconsistent runs)."""
        return (
            self.largest_ok_bytes is not None
            and self.smallest_failed_bytes is not None
            and self.largest_ok_bytes > self.smallest_failed_bytes
        )


@dataclass(frozen=True)
class SafeSize:
    """A series' answer to "up to what size does it stay under the budget?"."""

    series: Series
    budget_bytes: int
    points: tuple[tuple[int, float], ...]
    """(size, median peak over ok runs), one per distinct size that ran ok."""
    fit: LinearFit | None
    oom: Boundary
    """From statuses alone: largest size with an ok run, smallest with an oom run."""
    limit: Boundary
    """Against the budget: an ok peak over it, or an oom at a cap at or above it, fails."""
    kind: str
    """``fit`` (the line gives the threshold), ``flat`` (no limit found in the measured range),
    ``bracketed`` (runs failed: the threshold lies between two measured sizes) or
    ``unsupported`` (too few sizes or a poor fit)."""
    safe_size_bytes: float | None
    """The threshold for ``fit``, ``math.inf`` for ``flat`` under the budget, else None."""
    statement: str
    """The answer in plain words, saying when the data cannot support a threshold."""


def fit_line(points: Sequence[tuple[int, float]]) -> LinearFit | None:
    """Least-squares line through the points; None with fewer than two distinct sizes."""
    sizes = [float(size) for size, _ in points]
    peaks = [float(peak) for _, peak in points]
    if len(set(sizes)) < 2:
        return None
    slope, intercept = statistics.linear_regression(sizes, peaks)
    mean = statistics.fmean(peaks)
    total = sum((peak - mean) ** 2 for peak in peaks)
    residual = sum(
        (peak - (intercept + slope * size)) ** 2 for size, peak in zip(sizes, peaks, strict=True)
    )
    r_squared = None if total == 0 else 1 - residual / total
    return LinearFit(intercept, slope, r_squared, len(set(sizes)))


def oom_boundary(runs: Sequence[RunResult]) -> Boundary:
    """The largest size with an ok run and the smallest with an oom run, from statuses alone."""
    ok = [r.size_bytes for r in runs if r.status == "ok"]
    oom = [r.size_bytes for r in runs if r.status == "oom"]
    return Boundary(max(ok, default=None), min(oom, default=None))


def budget_boundary(runs: Sequence[RunResult], budget_bytes: int) -> Boundary:
    """Like ``oom_boundary`` but against the budget: an ok run whose peak is over the budget
    fails, and so does an oom at a cap at or above the budget (its peak passed the budget too);
    an oom at a cap below the budget proves nothing about it and is left out."""

    def failed(run: RunResult) -> bool:
        if run.status == "oom":
            return run.memory_limit_bytes is None or run.memory_limit_bytes >= budget_bytes
        return run.status == "ok" and (run.peak_rss_bytes or 0) > budget_bytes

    passed = [r.size_bytes for r in runs if r.status == "ok" and not failed(r)]
    return Boundary(
        max(passed, default=None), min((r.size_bytes for r in runs if failed(r)), default=None)
    )


def peak_points(runs: Sequence[RunResult]) -> tuple[tuple[int, float], ...]:
    """(size, median peak over the ok runs of that size) for every size with an ok peak."""
    points = []
    for size, group in group_by_size(runs).items():
        peaks = [r.peak_rss_bytes for r in group if r.status == "ok" and r.peak_rss_bytes]
        if peaks:
            points.append((size, float(statistics.median(peaks))))
    return tuple(points)


def safe_size(series: Series, runs: Sequence[RunResult], budget_bytes: int) -> SafeSize:
    """The safe size of one series' runs under ``budget_bytes``, with the reasoning in words."""
    points = peak_points(runs)
    fit = fit_line(points)
    limit = budget_boundary(runs, budget_bytes)
    problems = []
    if len(points) < MIN_SIZES:
        plural = "size" if len(points) == 1 else "sizes"
        problems.append(f"only {len(points)} distinct {plural} ran ok ({MIN_SIZES} needed)")
    flat = fit is not None and fit.slope < FLAT_SLOPE
    if fit and not flat and fit.r_squared is not None and fit.r_squared < MIN_R_SQUARED:
        problems.append(
            f"a straight line fits poorly (R\u00b2 {fit.r_squared:.2f} < {MIN_R_SQUARED})"
        )
    if limit.smallest_failed_bytes is not None:
        kind, safe = "bracketed", None
        statement = _bracketed(limit, fit, budget_bytes, problems)
    elif problems or fit is None:
        kind, safe = "unsupported", None
        statement = _unsupported(points, fit, budget_bytes, problems)
    elif flat:
        kind, safe = "flat", math.inf
        statement = _flat(points, fit)
    else:
        kind, safe = "fit", fit.reaches(budget_bytes)
        statement = _fitted(points, fit, budget_bytes)
    return SafeSize(
        series=series,
        budget_bytes=budget_bytes,
        points=points,
        fit=fit,
        oom=oom_boundary(runs),
        limit=limit,
        kind=kind,
        safe_size_bytes=safe,
        statement=statement,
    )


def safe_sizes(analysis: Analysis, budget_bytes: int) -> list[SafeSize]:
    """``safe_size`` for every series in the results, in series order."""
    return [
        safe_size(series, runs, budget_bytes) for series, runs in analysis.group_by_series().items()
    ]


def line_estimate(fit: LinearFit | None, budget_bytes: int) -> str:
    """A sentence (with a leading space) on where the line meets the budget, when that is worth
    saying: a good fit, or a line through two sizes (labelled as such); never a poor fit."""
    if fit is None:
        return ""
    reach = fit.reaches(budget_bytes)
    if fit.sizes < MIN_SIZES:
        how = f"a line through the {fit.sizes} sizes (not a fit)"
    elif fit.r_squared is not None and fit.r_squared >= MIN_R_SQUARED:
        how = f"the fit (R\u00b2 {fit.r_squared:.2f})"
    else:
        return ""
    if reach is None or reach <= 0:
        return ""
    return f" As a rough guide, {how} reaches the budget at {format_size(reach)}."


def _bracketed(
    limit: Boundary, fit: LinearFit | None, budget_bytes: int, problems: list[str]
) -> str:
    failed = format_size(limit.smallest_failed_bytes or 0)
    if limit.largest_ok_bytes is None:
        return (
            f"No safe size was measured: every size failed (ended oom or over the budget), "
            f"the smallest at {failed}."
        )
    ok = format_size(limit.largest_ok_bytes)
    reasons = [*problems, f"runs failed from {failed} up (oom, or a peak over the budget)"]
    text = (
        f"The data cannot support a single threshold: {'; '.join(reasons)}. "
        f"The limit lies between {ok} (largest ok) and {failed} (smallest failed)."
    )
    if limit.mixed:
        text += " Some sizes both passed and failed, so the runs are inconsistent there."
    return text + line_estimate(fit, budget_bytes)


def _unsupported(
    points: Sequence[tuple[int, float]],
    fit: LinearFit | None,
    budget_bytes: int,
    problems: list[str],
) -> str:
    text = f"The data cannot support a threshold: {'; '.join(problems)}."
    if points:
        largest = max(size for size, _ in points)
        highest = max(peak for _, peak in points)
        text += (
            f" Measured: ok up to {format_size(largest)}, median peaks at most "
            f"{format_size(highest)}."
        )
    return text + line_estimate(fit, budget_bytes)


def _flat(points: Sequence[tuple[int, float]], fit: LinearFit) -> str:
    largest = max(size for size, _ in points)
    highest = max(peak for _, peak in points)
    return (
        f"No limit found in the measured range: the peak barely grows with size "
        f"(slope {fit.slope:.3f}), at most {format_size(highest)} up to {format_size(largest)}."
    )


def _fitted(points: Sequence[tuple[int, float]], fit: LinearFit, budget_bytes: int) -> str:
    reach = fit.reaches(budget_bytes)
    assert reach is not None  # the slope is above FLAT_SLOPE
    how = f"the fit (R\u00b2 {fit.r_squared:.2f} over {fit.sizes} sizes)"
    if reach <= 0:
        return f"No safe size: {how} puts even an empty object over the budget."
    largest = max(size for size, _ in points)
    text = f"Safe up to {format_size(reach)}: {how} reaches the budget there."
    if reach > largest:
        text += (
            f" That is beyond the largest measured size ({format_size(largest)}): an extrapolation."
        )
    return text
