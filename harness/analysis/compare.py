"""Which case of a baseline each new case is compared with, and what the comparison says.

Cases are paired in two passes:

1. **same case**: equal keys (``identity.CaseKey``).
2. **changed parameters**: among the cases left on both sides, a new case and a baseline case in
   the same slot (equal keys but for the strategy's parameters) are paired when each is the only
   one left in that slot on its side. The pair is compared like any other, and its
   ``changes`` name the parameters that moved (``chunk_size 8MiB -> 64MiB``), so a change of a
   parameter that raises the peak fails the gate instead of passing as "new".

What is left is *new* (in the results only: listed, not compared) or *missing* (in the baseline
only: the gate fails it unless told that dropping cases is allowed). When no case pairs at all,
:func:`pair_cases` says why (:func:`why_disjoint`): a gate that compared nothing must not pass.

The median peak of the ok runs (repeats and, with a process pool, workers) is compared. Medians,
because one slow-to-free worker should not move the verdict. A rise above the tolerance fails,
unless either side has two or more repeats and the rise is smaller than the measured spread
(max - min of the same peaks, on either side): the runs themselves have shown that much
variation, so the rise is reported as noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import CaseRuns
from memharness_s3.analysis.identity import CaseKey, differences
from memharness_s3.sizes import format_mb


@dataclass(frozen=True)
class Pair:
    """A new case and the baseline case it is compared with."""

    new: CaseRuns
    old: CaseRuns
    changes: tuple[str, ...]
    """What differs between the two keys; empty for the same case."""


@dataclass(frozen=True)
class Pairing:
    pairs: tuple[Pair, ...]
    new_only: tuple[CaseRuns, ...]
    baseline_only: tuple[CaseRuns, ...]


def pair_cases(new: Sequence[CaseRuns], old: Sequence[CaseRuns]) -> Pairing:
    """Pair every new case with its baseline case, by the rules in the module docstring."""
    old_by_key = {case.key: case for case in old}
    pairs = [Pair(case, old_by_key[case.key], ()) for case in new if case.key in old_by_key]
    paired = {pair.new.key for pair in pairs}
    left_new = [case for case in new if case.key not in paired]
    left_old = [case for case in old if case.key not in paired]
    slots_new: dict[CaseKey, list[CaseRuns]] = {}
    slots_old: dict[CaseKey, list[CaseRuns]] = {}
    for case in left_new:
        slots_new.setdefault(case.key.slot, []).append(case)
    for case in left_old:
        slots_old.setdefault(case.key.slot, []).append(case)
    for slot, cases in slots_new.items():
        olds = slots_old.get(slot, [])
        if len(cases) == 1 and len(olds) == 1:
            pairs.append(Pair(cases[0], olds[0], tuple(differences(olds[0].key, cases[0].key))))
    paired_new = {pair.new.key for pair in pairs}
    paired_old = {pair.old.key for pair in pairs}
    return Pairing(
        pairs=tuple(sorted(pairs, key=lambda p: new.index(p.new))),
        new_only=tuple(case for case in new if case.key not in paired_new),
        baseline_only=tuple(case for case in old if case.key not in paired_old),
    )


def why_disjoint(new: Sequence[CaseRuns], old: Sequence[CaseRuns]) -> str:
    """Why no new case has a baseline case: the dimensions on which the two sides never meet."""
    reasons: list[str] = []
    for noun, value in _DIMENSIONS:
        if noun == "objects" and reasons and reasons[-1].startswith("object sizes"):
            continue
        mine = {value(case.key) for case in new}
        theirs = {value(case.key) for case in old}
        if mine and theirs and not mine & theirs:
            reasons.append(
                f"{noun} {', '.join(sorted(theirs))} in the baseline, "
                f"{', '.join(sorted(mine))} in these results"
            )
    if not reasons:
        reasons.append("every case differs from every baseline case in some setting")
    return "; ".join(reasons)


def _size(key: CaseKey) -> str:
    return f"{format_mb(key.size_bytes)} MB"


_DIMENSIONS = (
    ("strategies", lambda key: key.strategy),
    ("object sizes", _size),
    ("objects", lambda key: key.object_key),
    ("concurrency", lambda key: f"{key.concurrency} {key.pool}"),
    ("process steps", lambda key: key.process),
    ("backends", lambda key: key.backend),
    ("faults", lambda key: key.fault or "none"),
    (
        "memory caps",
        lambda key: format_mb(key.memory_limit_bytes) + " MB" if key.memory_limit_bytes else "none",
    ),
    ("memray", lambda key: "on" if key.memray else "off"),
    ("executors", lambda key: key.executor),
    (
        "executor settings",
        lambda key: " ".join(f"{name}={value}" for name, value in key.executor_params) or "none",
    ),
)


@dataclass(frozen=True)
class PeakChange:
    """The median peak of a pair, before and after, and what the gate makes of the change."""

    old_median: float
    new_median: float
    change_pct: float
    repeats: int
    """The larger of the two sides' repeat counts."""
    spread: int
    """The larger of the two sides' spreads."""
    regression: str | None
    """Why the change fails the gate; None when it does not."""
    noise: str | None
    """Set when the median rose past the tolerance but by less than the measured spread."""


def compare_peaks(pair: Pair, tolerance: float, noise_factor: float = 1.0) -> PeakChange | None:
    """The change of the median peak; None when a side has no ok peak to compare.

    ``noise_factor`` scales the measured spread a rise must exceed to fail (1: the spread).
    """
    new_median, old_median = pair.new.median_peak, pair.old.median_peak
    if new_median is None or old_median is None:
        return None
    repeats = max(pair.new.repeats, pair.old.repeats)
    spread = max(pair.new.spread, pair.old.spread)
    change_pct = (new_median - old_median) / old_median * 100
    regression = noise = None
    if new_median > old_median * (1 + tolerance):
        moved = (
            f"median peak rose {change_pct:+.1f}% ({format_mb(old_median)} -> "
            f"{format_mb(new_median)} MB)"
        )
        if pair.changes:
            moved += f" with {', '.join(pair.changes)}"
        if repeats >= 2 and new_median - old_median < noise_factor * spread:
            noise = (
                f"{moved}, more than the {percent(tolerance)} tolerance but less than the "
                f"{format_mb(spread)} MB spread measured over repeats: noise, not a failure"
            )
        else:
            regression = f"{moved}, over the {percent(tolerance)} tolerance"
            if repeats > 1:
                regression += (
                    f"; compared medians of {repeats} repeats (spread {format_mb(spread)} MB)"
                )
    return PeakChange(old_median, new_median, change_pct, repeats, spread, regression, noise)


def percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"
