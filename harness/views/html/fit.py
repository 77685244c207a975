"""Peak RSS against object size: the shape each series has, and the safe size it implies.

The question a worker's owner asks is "up to what object size does this strategy stay under my
budget?". The series' (size, median peak) points are fitted with a constant, a step and a line
(``analysis.shapes``, chosen by BIC). A constant or a step whose top is under the budget means no
limit in the measured range; a step over the budget brackets the limit between the two sizes
around the step; a line gives the size where it meets the budget, with an interval from its
residual spread, never beyond twice the largest measured size (:data:`MAX_EXTRAPOLATION`). Runs
that failed (killed, or over the budget) bracket the limit between the largest size with no
failure below the smallest failed one and that failed size, so the bracket is never inverted;
a size that passed above a failure is said (under a limit shared by several workers, kills near
it are a matter of which child the kernel picks), and kills are counted per size. The peaks
are the budget figure of each run's scope (``analysis.budget_scope``): a worker's peak, or the
node's charged peak when the workers share the limit. When the data cannot tell (one size; two
sizes that differ, which a line and a step fit equally; no shape that fits), it says so and
which size to measure next. Pure functions over results, dataclass answers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import budget_figure, figure_name, scopes_of
from memharness_s3.analysis.cases import KILLED, Analysis, Series, group_by_size
from memharness_s3.analysis.shapes import NOISE_FLOOR_BYTES, Shape, choose
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import INFRA, RunResult

MIN_SIZES = 3
"""Fewer distinct sizes than this cannot tell a line from any other curve."""
MIN_R_SQUARED = 0.9
"""Below this the line explains too little of the peaks to extrapolate a threshold from it."""
FLAT_SLOPE = 0.01
"""A slope below this (the peak grows by under 1% of the object's size) counts as flat."""
MAX_EXTRAPOLATION = 2.0
"""No safe size or estimate goes beyond this many times the largest measured size."""


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
    """Where runs stopped passing: the largest size with no failure below the smallest size
    with one (so never above it), and that smallest failed size."""

    largest_ok_bytes: int | None
    smallest_failed_bytes: int | None
    passed_above_bytes: tuple[int, ...] = ()
    """Sizes above the smallest failed one whose runs all passed."""


@dataclass(frozen=True)
class Kills:
    """How many runs of one size were killed, of how many measured."""

    size_bytes: int
    killed: int
    measured: int

    @property
    def text(self) -> str:
        return f"{self.killed} of {self.measured} killed at {format_size(self.size_bytes)}"


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
    """For ``fit``: the safe size where the line +- twice its residual spread meets the budget,
    clipped to twice the largest measured size."""
    kills: tuple[Kills, ...] = ()
    """Per size with a kill: how many of its runs were killed."""
    capped: bool = False
    """For ``fit``: the line meets the budget beyond twice the largest measured size, and
    ``safe_size_bytes`` is that bound instead (no further extrapolation)."""

    @property
    def described_shape(self) -> Shape | None:
        """The shape the data can be said to have: with three sizes or more a shape that
        explains its peaks (R² at least :data:`MIN_R_SQUARED`, or peaks that do not vary), with
        two a constant only when they are one level; else None (the statement says why)."""
        shape, points = self.shape, [(float(s), p) for s, p in self.points]
        if shape is None or len(points) < 2:
            return None
        if len(points) == 2:
            return shape if shape.name == "constant" and _same_level(self.points) else None
        r_squared = shape.r_squared(points)
        return shape if r_squared is None or r_squared >= MIN_R_SQUARED else None


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


def _boundary(runs: Sequence[RunResult], failed: Callable[[RunResult], bool]) -> Boundary:
    """Sizes whose every run passed (some ended ok, none ``failed``) against those with a
    failure: the largest passing size below the smallest failed one, that size, and the sizes
    that passed above it."""
    passing, failing = set(), set()
    for size, group in group_by_size(runs).items():
        if any(failed(r) for r in group):
            failing.add(size)
        elif any(r.status == "ok" for r in group):
            passing.add(size)
    first_failed = min(failing, default=None)
    below = [s for s in passing if first_failed is None or s < first_failed]
    above = sorted(s for s in passing if first_failed is not None and s > first_failed)
    return Boundary(max(below, default=None), first_failed, tuple(above))


def oom_boundary(runs: Sequence[RunResult]) -> Boundary:
    """From statuses alone: the largest size with no kill (and an ok run) below the smallest
    size with a kill, and that size."""
    return _boundary(runs, lambda run: run.status == KILLED)


def budget_boundary(runs: Sequence[RunResult], budget_bytes: int) -> Boundary:
    """Like ``oom_boundary`` but against the budget: an ok run whose budget figure is over the
    budget fails, and so does an oom at a cap at or above the budget (its peak passed the
    budget too); an oom at a cap below the budget proves nothing about it and is left out."""

    return _boundary(runs, lambda run: run_failed(run, budget_bytes))


def run_failed(run: RunResult, budget_bytes: int) -> bool:
    """Whether the run fails ``budget_bytes`` (``budget_boundary``)."""
    if run.status == KILLED:
        return run.memory_limit_bytes is None or run.memory_limit_bytes >= budget_bytes
    return run.status == "ok" and (budget_figure(run) or 0) > budget_bytes


def kills_per_size(runs: Sequence[RunResult]) -> tuple[Kills, ...]:
    """Every size with a killed run, and how many of its measured runs were."""
    found = []
    for size, group in group_by_size(runs).items():
        measured = [r for r in group if r.status != INFRA]
        killed = sum(1 for r in measured if r.status == KILLED)
        if killed:
            found.append(Kills(size, killed, len(measured)))
    return tuple(found)


def peak_points(runs: Sequence[RunResult]) -> tuple[tuple[int, float], ...]:
    """(size, median budget figure over the ok runs of that size) for every size with one."""
    points = []
    for size, group in group_by_size(runs).items():
        peaks = [f for r in group if r.status == "ok" and (f := budget_figure(r))]
        if peaks:
            points.append((size, float(statistics.median(peaks))))
    return tuple(points)


def safe_size(series: Series, runs: Sequence[RunResult], budget_bytes: int) -> SafeSize:
    """The safe size of one series' runs under ``budget_bytes``, with the reasoning in words."""
    points = peak_points(runs)
    fit = fit_line(points)
    limit = budget_boundary(runs, budget_bytes)
    kills = kills_per_size(runs)
    figure = " / ".join(figure_name(scope) for scope in scopes_of(runs))
    shape = choose([(float(s), p) for s, p in points])[0] if points else None
    interval = None
    capped = False
    if limit.smallest_failed_bytes is not None:
        kind, safe = "bracketed", None
        statement = _bracketed(limit, kills)
    elif shape is None or len(points) < 2:
        kind, safe = "unsupported", None
        statement = _unsupported(points, fit, budget_bytes, [_one_size(points)], figure)
    elif len(points) == 2 and shape.name == "constant" and not _same_level(points):
        kind, safe = "unsupported", None
        problem = _two_sizes(points)
        statement = _unsupported(points, fit, budget_bytes, [problem], figure)
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
        statement = _unsupported(points, None, budget_bytes, [problem], figure)
    elif shape.name == "linear" and shape.params[1] >= FLAT_SLOPE:
        reach = (budget_bytes - shape.params[0]) / shape.params[1]
        bound = MAX_EXTRAPOLATION * max(size for size, _ in points)
        kind, safe, capped = "fit", min(reach, bound), reach > bound
        interval = None if capped else _interval(shape, points, budget_bytes, bound)
        statement = _fitted(points, shape, budget_bytes, interval, figure)
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
        statement = _flat(points, shape, figure)
    else:
        kind, safe = "fit", 0.0
        statement = f"No safe size: the {figure} is {format_size(shape.predict(0))} or more."
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
        kills=kills,
        capped=capped,
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
    shape: Shape, points: Sequence[tuple[int, float]], budget_bytes: int, bound: float
) -> tuple[float, float]:
    """Where the line, shifted up and down by twice its residual spread, meets the budget,
    within 0 and ``bound`` (no extrapolation further)."""
    intercept, slope = shape.params
    spread = max(math.sqrt(shape.rss / max(1, len(points) - 2)), NOISE_FLOOR_BYTES)
    low = (budget_bytes - 2 * spread - intercept) / slope
    high = (budget_bytes + 2 * spread - intercept) / slope
    return min(max(0.0, low), bound), min(max(0.0, high), bound)


def safe_sizes(analysis: Analysis, budget_bytes: int) -> list[SafeSize]:
    """``safe_size`` for every series in the results, in series order."""
    return [
        safe_size(series, runs, budget_bytes) for series, runs in analysis.group_by_series().items()
    ]


def line_estimate(fit: LinearFit | None, budget_bytes: int, largest_bytes: int) -> str:
    """A sentence (with a leading space) on where the line meets the budget, when that is worth
    saying: a good fit, or a line through two sizes (labelled as such); never a poor fit, and
    never beyond :data:`MAX_EXTRAPOLATION` times ``largest_bytes``, the largest measured size."""
    if fit is None:
        return ""
    reach = fit.reaches(budget_bytes)
    if fit.sizes < MIN_SIZES:
        how = f"a line through the {fit.sizes} sizes (not a fit)"
    elif fit.r_squared is not None and fit.r_squared >= MIN_R_SQUARED:
        how = f"the fit (R\u00b2 {fit.r_squared:.2f})"
    else:
        return ""
    if reach is None or reach <= 0 or reach > MAX_EXTRAPOLATION * largest_bytes:
        return ""
    return f" As a rough guide, {how} reaches the budget at {format_size(reach)}."


def _bracketed(limit: Boundary, kills: Sequence[Kills]) -> str:
    """The measured bracket, said with the kills per size; no line is drawn across kills."""
    failed = format_size(limit.smallest_failed_bytes or 0)
    killed = f" ({', '.join(k.text for k in kills)})" if kills else ""
    if limit.largest_ok_bytes is None:
        text = (
            f"No safe size was measured: runs failed (killed, or over the budget) from the "
            f"smallest size that failed, {failed}, and no smaller size passed{killed}."
        )
    else:
        ok = format_size(limit.largest_ok_bytes)
        text = (
            f"The data cannot support a single threshold: runs failed from {failed} up "
            f"(killed, or over the budget){killed}. The limit lies between {ok} (largest ok) "
            f"and {failed} (smallest failed)."
        )
    if limit.passed_above_bytes:
        sizes = ", ".join(format_size(size) for size in limit.passed_above_bytes)
        text += (
            f" Every run passed at {sizes}, above a size that failed: near a limit the workers "
            "share, which child the kernel kills is a matter of timing, so repeat the sizes "
            "(--repeat 3) or search the limit (memharness limits)."
        )
    return text


def _unsupported(
    points: Sequence[tuple[int, float]],
    fit: LinearFit | None,
    budget_bytes: int,
    problems: list[str],
    figure: str,
) -> str:
    text = f"The data cannot support a threshold: {'; '.join(problems)}."
    if not points:
        return text
    largest = max(size for size, _ in points)
    highest = max(peak for _, peak in points)
    text += (
        f" Measured: ok up to {format_size(largest)}, median {figure} at most "
        f"{format_size(highest)}."
    )
    return text + line_estimate(fit, budget_bytes, largest)


def _flat(points: Sequence[tuple[int, float]], shape: Shape, figure: str) -> str:
    largest = max(size for size, _ in points)
    highest = max(peak for _, peak in points)
    if shape.name == "step":
        low, high, below, at = shape.params
        how = (
            f"the peak steps once, from {format_size(low)} to {format_size(high)} between "
            f"{format_size(below)} and {format_size(at)}, and stays there"
        )
    elif shape.name == "linear":
        how = f"the {figure} barely grows with size (slope {shape.params[1]:.3f})"
    else:
        how = f"the {figure} stays at about {format_size(shape.params[0])}"
    return (
        f"No limit found in the measured range: {how} (best by BIC: {shape.name}); at most "
        f"{format_size(highest)} up to {format_size(largest)}."
    )


def _fitted(
    points: Sequence[tuple[int, float]],
    shape: Shape,
    budget_bytes: int,
    interval: tuple[float, float] | None,
    figure: str,
) -> str:
    intercept, slope = shape.params
    reach = (budget_bytes - intercept) / slope
    r_squared = shape.r_squared([(float(s), p) for s, p in points]) or 1.0
    how = (
        f"the line (best by BIC; R\u00b2 {r_squared:.2f} over {len(points)} sizes, "
        f"{figure} = {format_size(intercept)} + {slope:.2f} x size)"
    )
    if reach <= 0:
        return f"No safe size: {how} puts even an empty object over the budget."
    largest = max(size for size, _ in points)
    bound = MAX_EXTRAPOLATION * largest
    if interval is None:
        return (
            f"Safe up to at least {format_size(bound)}, twice the largest measured size "
            f"({format_size(largest)}): {how} stays under the budget there, and is not "
            f"extrapolated further; measure {format_size(bound)} to go on."
        )
    low, high = interval
    text = (
        f"Safe up to {format_size(reach)} ({format_size(low)} to {format_size(high)}): {how} "
        "reaches the budget there."
    )
    if reach > largest:
        text += (
            f" That is beyond the largest measured size ({format_size(largest)}): an "
            f"extrapolation; measure {format_size(min(reach, bound))} to confirm it."
        )
    return text
