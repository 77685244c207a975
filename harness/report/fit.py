"""Peak RSS against object size: the shape each series has, and the safe size it implies.

The question a worker's owner asks is "up to what object size does this strategy stay under my
budget?". The series' (size, median peak) points are fitted with a constant, a step and a line
(``analysis.shapes``, chosen by BIC). A constant or a step whose top is under the budget means no
limit in the measured range; a step over the budget brackets the limit between the two sizes
around the step; a line gives the size where it meets the budget, with an interval from its
residual spread. Runs that failed bracket the limit between the largest ok and the smallest
failed size. When the data cannot tell (one size; two sizes that differ, which a line and a
step fit equally; no shape that fits), it says so and which size to measure next. Pure functions
over results, dataclass answers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import Analysis, Series, group_by_size
from memharness_s3.analysis.shapes import NOISE_FLOOR_BYTES, Shape, choose
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import RunResult

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
    shape: Shape | None = None
    """The model the data has (constant, step or linear), when it could be chosen."""
    interval: tuple[float, float] | None = None
    """For ``fit``: the safe size where the line +- twice its residual spread meets the budget."""


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
    shape = choose([(float(s), p) for s, p in points])[0] if points else None
    interval = None
    if limit.smallest_failed_bytes is not None:
        kind, safe = "bracketed", None
        statement = _bracketed(limit, fit, budget_bytes, [])
    elif shape is None or len(points) < 2:
        kind, safe = "unsupported", None
        statement = _unsupported(points, fit, budget_bytes, [_one_size(points)])
    elif len(points) == 2 and shape.name == "constant" and not _same_level(points):
        kind, safe = "unsupported", None
        problem = _two_sizes(points)
        statement = _unsupported(points, fit, budget_bytes, [problem])
    elif (
        len(points) >= 3
        and (r_squared := shape.r_squared([(float(s), p) for s, p in points])) is not None
        and r_squared < MIN_R_SQUARED
    ):
        kind, safe = "unsupported", None
        problem = (
            f"the best shape ({shape.name}) fits poorly (R\u00b2 {r_squared:.2f} < "
            f"{MIN_R_SQUARED}): repeat the sizes (--repeat 3) to see which runs wobble"
        )
        statement = _unsupported(points, None, budget_bytes, [problem])
    elif shape.name == "linear" and shape.params[1] >= FLAT_SLOPE:
        reach = (budget_bytes - shape.params[0]) / shape.params[1]
        kind, safe = "fit", reach
        interval = _interval(shape, points, budget_bytes)
        statement = _fitted(points, shape, budget_bytes, interval)
    elif shape.name == "step" and shape.params[1] > budget_bytes:
        low, high, below, at = shape.params
        kind, safe = "bracketed", None
        statement = (
            f"Steps from {format_size(low)} to {format_size(high)} between {format_size(below)} "
            f"and {format_size(at)} (the step fits best by BIC): the limit lies between those "
            f"two sizes; measure a size between them to narrow it."
        )
    elif max(p for _, p in points) <= budget_bytes:
        kind, safe = "flat", math.inf
        statement = _flat(points, shape)
    else:
        kind, safe = "fit", 0.0
        statement = f"No safe size: the peak is {format_size(shape.predict(0))} or more."
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
        shape=shape,
        interval=interval,
    )


def _same_level(points: Sequence[tuple[int, float]]) -> bool:
    """Whether two points are one level: within 8 MiB and 5 % of each other."""
    (_, a), (_, b) = points
    return abs(a - b) <= max(8 * NOISE_FLOOR_BYTES, 0.05 * min(a, b))


def _one_size(points: Sequence[tuple[int, float]]) -> str:
    if not points:
        return "no size ran ok"
    size = points[0][0]
    return (
        f"only 1 distinct size ran ok: measure {format_size(size * 4)} too to see whether the "
        "peak grows with the object"
    )


def _two_sizes(points: Sequence[tuple[int, float]]) -> str:
    (small, _), (large, _) = sorted(points)
    return (
        f"only 2 distinct sizes ran ok and their peaks differ, which a line and a step fit "
        f"equally: measure {format_size((small + large) / 2)} and {format_size(large * 2)} to "
        "tell them apart"
    )


def _interval(
    shape: Shape, points: Sequence[tuple[int, float]], budget_bytes: int
) -> tuple[float, float]:
    """Where the line, shifted up and down by twice its residual spread, meets the budget."""
    intercept, slope = shape.params
    spread = max(math.sqrt(shape.rss / max(1, len(points) - 2)), NOISE_FLOOR_BYTES)
    low = (budget_bytes - 2 * spread - intercept) / slope
    high = (budget_bytes + 2 * spread - intercept) / slope
    return max(0.0, low), max(0.0, high)


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


def _flat(points: Sequence[tuple[int, float]], shape: Shape) -> str:
    largest = max(size for size, _ in points)
    highest = max(peak for _, peak in points)
    if shape.name == "step":
        low, high, below, at = shape.params
        how = (
            f"the peak steps once, from {format_size(low)} to {format_size(high)} between "
            f"{format_size(below)} and {format_size(at)}, and stays there"
        )
    elif shape.name == "linear":
        how = f"the peak barely grows with size (slope {shape.params[1]:.3f})"
    else:
        how = f"the peak stays at about {format_size(shape.params[0])}"
    return (
        f"No limit found in the measured range: {how} (best by BIC: {shape.name}); at most "
        f"{format_size(highest)} up to {format_size(largest)}."
    )


def _fitted(
    points: Sequence[tuple[int, float]],
    shape: Shape,
    budget_bytes: int,
    interval: tuple[float, float],
) -> str:
    intercept, slope = shape.params
    reach = (budget_bytes - intercept) / slope
    r_squared = shape.r_squared([(float(s), p) for s, p in points]) or 1.0
    how = (
        f"the line (best by BIC; R\u00b2 {r_squared:.2f} over {len(points)} sizes, "
        f"peak = {format_size(intercept)} + {slope:.2f} x size)"
    )
    if reach <= 0:
        return f"No safe size: {how} puts even an empty object over the budget."
    largest = max(size for size, _ in points)
    low, high = interval
    text = (
        f"Safe up to {format_size(reach)} ({format_size(low)} to {format_size(high)}): {how} "
        "reaches the budget there."
    )
    if reach > largest:
        text += (
            f" That is beyond the largest measured size ({format_size(largest)}): an "
            f"extrapolation; measure {format_size(min(reach, largest * 2))} to confirm it."
        )
    return text
