"""How much a case's median peak moves between runs of the same code, and the smallest rise a
comparison of two medians can tell from that movement.

The unit of measurement is a *repeat*: the median of the ok peaks of one repeat of a case (its
workers, with a process pool). How far repeats of the same code scatter is estimated with the
median absolute deviation (MAD), scaled to a standard deviation (x 1.4826), and the standard
error of a median of ``n`` repeats is ``sqrt(pi/2) * sigma / sqrt(n)``. A rise is told from
noise when it exceeds ``factor`` standard errors of the difference of the two medians, so the
smallest detectable rise falls as ``1/sqrt(n)``: more repeats resolve smaller rises.

Why the MAD and not the median's bootstrap interval: with the 3 repeats a CI job can afford, a
bootstrap of the median only ever returns one of the three values, so its interval is the range
again (the max - min this replaces, which only grows with repeats) and narrows in coarse steps;
it also needs a random generator and thousands of resamples per case, per pair, and the
calibration experiment replays the gate on hundreds of pairs. The MAD is closed-form,
deterministic, and one odd repeat does not move it.

The scatter comes from one of two places:

- the compared runs' own repeats, with 3 or more a side (:func:`sigma_of_repeats`), deviations
  taken from each side's own median, so a real rise between the sides does not count as scatter;
- a *noise floor* from runs of the same code made at other times (:func:`between_runs`): a
  calibration file (``memharness calibrate``) or the baseline's own history. Runs made at
  different times scatter more than the repeats of one run (transfer-manager's parts queue
  differently from one run to the next), so when a floor exists the larger of the two is used.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import CaseRuns

MAD_TO_SIGMA = 1.4826
"""MAD x this = the standard deviation, for normally scattered values."""
MEDIAN_STANDARD_ERROR = math.sqrt(math.pi / 2)
"""The standard error of a median is this x sigma / sqrt(n) (1 for a mean)."""
MIN_OWN_REPEATS = 3
"""Repeats a side needs before the gate reads the scatter from the compared runs themselves."""


def repeat_levels(case: CaseRuns) -> list[float]:
    """One value per repeat with an ok peak: the median of that repeat's ok peaks."""
    by_repeat: dict[int, list[int]] = {}
    for run in case.ok_runs:
        if run.peak_rss_bytes is not None:
            by_repeat.setdefault(run.repeat, []).append(run.peak_rss_bytes)
    return [statistics.median(peaks) for _, peaks in sorted(by_repeat.items())]


def robust_sigma(groups: Iterable[Sequence[float]]) -> float | None:
    """The scatter of values around their own group's median, as a standard deviation.

    The deviations of every group are pooled. In a group of odd size one value *is* the median
    and deviates by exactly 0 whatever the scatter; it is left out, since with 3 repeats it
    would be a third of the deviations and pull the MAD towards 0. None when no group has two
    values (a single value says nothing about scatter).
    """
    deviations: list[float] = []
    for group in groups:
        if len(group) < 2:
            continue
        centre = statistics.median(group)
        own = sorted(abs(value - centre) for value in group)
        deviations += own[1:] if len(group) % 2 else own
    if not deviations:
        return None
    return MAD_TO_SIGMA * statistics.median(deviations)


def sigma_of_repeats(old: Sequence[float], new: Sequence[float]) -> float | None:
    """The scatter read from the compared runs' own repeats; None below 3 repeats a side."""
    if min(len(old), len(new)) < MIN_OWN_REPEATS:
        return None
    return robust_sigma([old, new])


def detectable_rise(sigma: float, old_repeats: int, new_repeats: int, factor: float) -> float:
    """The smallest rise of the median that is more than ``factor`` standard errors of the
    difference of two medians of ``old_repeats`` and ``new_repeats`` repeats."""
    error = MEDIAN_STANDARD_ERROR * sigma * math.sqrt(1 / old_repeats + 1 / new_repeats)
    return factor * error


def repeats_needed(sigma: float, allowed_bytes: float, factor: float) -> int:
    """How many repeats a side make the detectable rise no larger than ``allowed_bytes``."""
    if sigma <= 0:
        return 1
    if allowed_bytes <= 0:
        raise ValueError("no number of repeats resolves a rise of 0 bytes")
    # detectable_rise(sigma, n, n, factor) <= allowed  <=>  n >= 2 (factor k sigma / allowed)^2
    needed = 2 * (factor * MEDIAN_STANDARD_ERROR * sigma / allowed_bytes) ** 2
    return max(1, math.ceil(needed - 1e-9))


@dataclass(frozen=True)
class CaseNoise:
    """How one case scattered between runs of the same code."""

    label: str
    strategy: str
    size_bytes: int
    runs: int
    """How many runs had an ok repeat of the case."""
    repeats: int
    """How many repeats those runs had in all."""
    sigma_bytes: float
    """The scatter of single repeats around the median of all of them (between runs included)."""
    spread_bytes: float
    """Max - min of those repeats: the largest difference the same code showed."""


@dataclass(frozen=True)
class NoiseFloor:
    """Per case id, how the case scattered between runs, and where that was measured."""

    source: str
    """``calibration FILE`` or ``baseline history (N runs)``: what the gate's lines cite."""
    cases: Mapping[str, CaseNoise]

    def sigma(self, *case_ids: str) -> float | None:
        """The scatter of the first of ``case_ids`` the floor knows; None if it knows none."""
        for case_id in case_ids:
            if case_id in self.cases:
                return self.cases[case_id].sigma_bytes
        return None


def between_runs(runs: Sequence[Sequence[CaseRuns]], source: str) -> NoiseFloor:
    """The floor from several runs of the same code (one list of cases per run).

    Every repeat of a case, whichever run made it, is one value, and the scatter is taken around
    the median of all of them: the difference between runs is what a floor must include. A case
    is kept when at least two runs have it and its repeats number at least three.
    """
    found: dict[str, list[tuple[CaseRuns, list[float]]]] = {}
    for cases in runs:
        for case in cases:
            levels = repeat_levels(case)
            if levels:
                found.setdefault(case.case_id, []).append((case, levels))
    floor: dict[str, CaseNoise] = {}
    for case_id, per_run in found.items():
        values = [level for _, levels in per_run for level in levels]
        sigma = robust_sigma([values])
        if len(per_run) < 2 or len(values) < 3 or sigma is None:
            continue
        case = per_run[-1][0]
        floor[case_id] = CaseNoise(
            label=case.label,
            strategy=case.key.strategy,
            size_bytes=case.key.size_bytes,
            runs=len(per_run),
            repeats=len(values),
            sigma_bytes=sigma,
            spread_bytes=max(values) - min(values),
        )
    return NoiseFloor(source, floor)
