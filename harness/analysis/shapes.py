"""The shapes peak RSS takes against object size, and which one the data has.

Strategies do not all grow with the object: ``read-all`` is linear (it holds the object),
``chunked`` constant (one chunk), ``range`` and ``transfer-manager`` a step (the peak grows until
the object fills one part, or the queue of parts, and then stays). Three models, fitted by least
squares to (size, median peak) points:

- ``constant``: peak = c (1 parameter);
- ``linear``: peak = a + b x size (2);
- ``step``: peak = low below a size, high from it on (3: two levels and where the step is,
  placed between two measured sizes).

The model is chosen by the Bayesian information criterion, ``n ln(RSS / n) + k ln(n)``: the
residual has to shrink by more than a parameter is worth. The residual is floored at one MiB per
point (peaks of one case repeat within about that), so three points exactly on a line do not
make the line infinitely better than anything else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

NOISE_FLOOR_BYTES = float(2**20)

Point = tuple[float, float]


@dataclass(frozen=True)
class Shape:
    """One model fitted to the points."""

    name: str
    params: tuple[float, ...]
    """constant: (c,); linear: (a, b); step: (low, high, last size below, first size at)."""
    rss: float
    k: int
    n: int

    @property
    def bic(self) -> float:
        floor = self.n * NOISE_FLOOR_BYTES**2
        return self.n * math.log(max(self.rss, floor) / self.n) + self.k * math.log(self.n)

    def predict(self, size: float) -> float:
        if self.name == "constant":
            return self.params[0]
        if self.name == "linear":
            return self.params[0] + self.params[1] * size
        low, high, _below, at = self.params
        return high if size >= at else low

    def r_squared(self, points: Sequence[Point]) -> float | None:
        """The share of the peaks' variance the shape explains; None when they do not vary."""
        mean = statistics.fmean(peak for _, peak in points)
        total = sum((peak - mean) ** 2 for _, peak in points)
        return None if total <= len(points) * NOISE_FLOOR_BYTES**2 else 1 - self.rss / total


def fit_constant(points: Sequence[Point]) -> Shape:
    level = statistics.fmean(peak for _, peak in points)
    return Shape("constant", (level,), sum((p - level) ** 2 for _, p in points), 1, len(points))


def fit_linear(points: Sequence[Point]) -> Shape | None:
    sizes = [size for size, _ in points]
    if len(set(sizes)) < 2:
        return None
    slope, intercept = statistics.linear_regression(sizes, [peak for _, peak in points])
    rss = sum((peak - (intercept + slope * size)) ** 2 for size, peak in points)
    return Shape("linear", (intercept, slope), rss, 2, len(points))


def fit_step(points: Sequence[Point]) -> Shape | None:
    ordered = sorted(points)
    best: Shape | None = None
    for cut in range(1, len(ordered)):
        left, right = ordered[:cut], ordered[cut:]
        if left[-1][0] == right[0][0]:
            continue
        low = statistics.fmean(p for _, p in left)
        high = statistics.fmean(p for _, p in right)
        rss = sum((p - low) ** 2 for _, p in left) + sum((p - high) ** 2 for _, p in right)
        shape = Shape("step", (low, high, left[-1][0], right[0][0]), rss, 3, len(points))
        if best is None or shape.rss < best.rss:
            best = shape
    return best


def candidates(points: Sequence[Point]) -> list[Shape]:
    """Every model the points can tell apart: a line needs three sizes, a step three too."""
    shapes = [fit_constant(points)]
    if len({size for size, _ in points}) >= 3:
        shapes += [s for s in (fit_linear(points), fit_step(points)) if s is not None]
    return shapes


def choose(points: Sequence[Point]) -> tuple[Shape, list[Shape]]:
    """The shape with the lowest BIC, and every candidate (for the report)."""
    shapes = candidates(points)
    return min(shapes, key=lambda shape: (shape.bic, shape.k)), shapes
