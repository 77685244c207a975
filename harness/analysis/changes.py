"""Change points in a case's peak over a sequence of runs (e.g. one results directory per commit).

Each run contributes its level, the median of the case's ok peaks, and its spread (max - min of
those peaks). The series of levels is cut by binary segmentation: the cut that most reduces the
sum of absolute deviations from each side's median is kept when the two sides' medians differ by
more than the threshold, and each side is cut again the same way. The threshold is the largest
of ``min_step_bytes`` (8 MiB), ``min_step_fraction`` (5 %) of the lower level, and twice the
median spread of the runs' repeats: a step must be bigger than the runs have been shown to wobble
by themselves, so a series of single runs with no repeats relies on the first two alone.

Robust (medians and absolute deviations) rather than optimal: a history of a few dozen runs per
case is what a project keeps, and one odd run must not cut a series by itself unless it is the
last one, which is the question a CI job asks ("does this run start a new step?").
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_STEP_BYTES = 8 * 2**20
MIN_STEP_FRACTION = 0.05
NOISE_FACTOR = 2.0


@dataclass(frozen=True)
class Step:
    """A change point: the run at ``index`` starts a new level."""

    index: int
    before: float
    """The median level of the segment that ends before ``index``."""
    after: float
    """The median level of the segment that starts at ``index``."""

    @property
    def upwards(self) -> bool:
        return self.after > self.before


def threshold(levels: Sequence[float], spreads: Sequence[float]) -> float:
    """The smallest step that counts, for a series with these levels and repeat spreads."""
    noise = statistics.median(spreads) if spreads else 0.0
    return max(MIN_STEP_BYTES, MIN_STEP_FRACTION * min(levels), NOISE_FACTOR * noise)


def change_points(levels: Sequence[float], spreads: Sequence[float] = ()) -> list[Step]:
    """The steps in ``levels`` (one per run, in order), sorted by index; each step's levels are
    the medians of the final segments on either side of it."""
    if len(levels) < 2:
        return []
    cuts: list[int] = []
    _split(list(levels), 0, len(levels), threshold(levels, spreads), cuts)
    bounds = [0, *sorted(cuts), len(levels)]
    medians = [statistics.median(levels[a:b]) for a, b in itertools.pairwise(bounds)]
    return [
        Step(index, medians[number], medians[number + 1])
        for number, index in enumerate(bounds[1:-1])
    ]


def _split(levels: list[float], start: int, end: int, limit: float, cuts: list[int]) -> None:
    """Cut ``levels[start:end]`` where it most reduces the absolute deviation, if the medians
    on either side differ by more than ``limit``; then each side the same way."""
    if end - start < 2:
        return
    segment = levels[start:end]
    whole = _deviation(segment)
    gains = [
        (whole - _deviation(segment[:cut]) - _deviation(segment[cut:]), cut)
        for cut in range(1, len(segment))
    ]
    cut = max(gains)[1]
    before, after = statistics.median(segment[:cut]), statistics.median(segment[cut:])
    if abs(after - before) <= limit:
        return
    cuts.append(start + cut)
    _split(levels, start, start + cut, limit, cuts)
    _split(levels, start + cut, end, limit, cuts)


def _deviation(values: Sequence[float]) -> float:
    middle = statistics.median(values)
    return sum(abs(value - middle) for value in values)


def last_run_steps_up(levels: Sequence[float], spreads: Sequence[float] = ()) -> Step | None:
    """The step the last run starts, if it starts one upwards."""
    for step in change_points(levels, spreads):
        if step.index == len(levels) - 1 and step.upwards:
            return step
    return None
