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
because one slow-to-free worker should not move the verdict. A rise fails when it is above the
tolerance and above what the noise lets the comparison resolve (``analysis.noise``: the scatter
of the pair's own repeats, 3 or more a side, or a floor measured between runs of the same code);
a rise above the tolerance but within the noise is reported as noise. With neither an estimate
of the noise, the pair *cannot be compared at this repeat count*: the gate says so and what
would resolve it, and does not fail the case. Every comparison states the smallest rise it
could have detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import CaseRuns
from memharness_s3.analysis.identity import CaseKey, differences
from memharness_s3.analysis.noise import (
    MIN_OWN_REPEATS,
    NoiseFloor,
    detectable_rise,
    repeat_levels,
    repeats_needed,
    sigma_of_repeats,
)
from memharness_s3.config.sizes import format_mb
from memharness_s3.model.case_fields import CASE_FIELDS, CaseField


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
    for field in CASE_FIELDS:
        noun = field.label
        if noun is None or (
            noun == "objects" and reasons and reasons[-1].startswith("object sizes")
        ):
            continue
        mine = {_disjoint_value(field, case.key) for case in new}
        theirs = {_disjoint_value(field, case.key) for case in old}
        if mine and theirs and not mine & theirs:
            reasons.append(
                f"{noun} {', '.join(sorted(theirs))} in the baseline, "
                f"{', '.join(sorted(mine))} in these results"
            )
    if not reasons:
        reasons.append("every case differs from every baseline case in some setting")
    return "; ".join(reasons)


def _disjoint_value(field: CaseField, key: CaseKey) -> str:
    """How ``key`` shows in a reason on ``field``."""
    return field.disjoint(key) if field.disjoint else str(getattr(key, field.name))


@dataclass(frozen=True)
class PeakChange:
    """The median peak of a pair, before and after, and what the gate makes of the change."""

    old_median: float
    new_median: float
    change_pct: float
    old_repeats: int
    new_repeats: int
    allowed_bytes: float
    """The tolerance in bytes of the baseline's median."""
    noise_bytes: float | None
    """The smallest rise the noise estimate lets the comparison tell from noise; None when
    there is no estimate (fewer than 3 repeats a side and no floor for the case)."""
    noise_source: str | None
    """Where the noise estimate came from: ``their repeats`` or a floor's source."""
    outcome: str
    """``pass``, ``FAIL``, ``WARN``, ``noise`` (rose past the tolerance, within the noise) or
    ``cannot be compared at N repeats``."""
    message: str
    """The change in words, with what decided the outcome."""
    repeats_needed: int | None
    """Repeats a side that would make the detectable rise no larger than the tolerance, when
    the noise makes it larger; None when the tolerance already decides or nothing is known."""

    @property
    def detectable_bytes(self) -> float | None:
        """The smallest rise this comparison fails: the tolerance or the noise, the larger."""
        if self.noise_bytes is None:
            return None
        return max(self.allowed_bytes, self.noise_bytes)

    @property
    def resolved(self) -> bool:
        return self.noise_bytes is not None

    @property
    def detects(self) -> str:
        """``detects rises above 4.1 MB (2.3%)``, or why it detects nothing."""
        if self.detectable_bytes is None:
            return (
                f"detects no rise: {_repeats(min(self.old_repeats, self.new_repeats))} a side "
                f"and no noise floor for this case; {MIN_OWN_REPEATS} repeats a side (--repeat "
                f"{MIN_OWN_REPEATS}) let the gate read the noise from the runs themselves, or "
                "give a calibration (memharness calibrate)"
            )
        pct = self.detectable_bytes / self.old_median * 100
        text = f"detects rises above {format_mb(self.detectable_bytes)} MB ({pct:.1f}%"
        if self.noise_bytes is not None and self.noise_bytes > self.allowed_bytes:
            text += f", the noise of {self.noise_source}"
            if self.repeats_needed is not None:
                text += (
                    f"; {self.repeats_needed} repeats a side would resolve the "
                    f"{format_mb(self.allowed_bytes)} MB tolerance"
                )
        text += ")"
        return text


def compare_peaks(
    pair: Pair,
    tolerance: float,
    noise_factor: float = 3.0,
    *,
    warn: float | None = None,
    floors: Sequence[NoiseFloor] = (),
) -> PeakChange | None:
    """The change of the median peak; None when a side has no ok peak to compare.

    The change fails when it is above both the tolerance and ``noise_factor`` standard errors
    of the difference of the medians (``analysis.noise``), and warns when it is above both
    ``warn`` and the noise. The noise is read from the pair's own repeats (3 or more a side)
    and from the ``floors`` that know the case (the largest); without either the comparison
    cannot tell a rise from noise and says so.
    """
    new_median, old_median = pair.new.median_peak, pair.old.median_peak
    if new_median is None or old_median is None:
        return None
    old_levels, new_levels = repeat_levels(pair.old), repeat_levels(pair.new)
    estimates = [(sigma_of_repeats(old_levels, new_levels), "their repeats")]
    estimates += [
        (floor.sigma(pair.old.case_id, pair.new.case_id), floor.source) for floor in floors
    ]
    known = [(sigma, source) for sigma, source in estimates if sigma is not None]
    change_pct = (new_median - old_median) / old_median * 100
    allowed = tolerance * old_median
    rise = new_median - old_median
    moved = (
        f"median peak {'rose' if rise > 0 else 'changed'} {change_pct:+.1f}% "
        f"({format_mb(old_median)} -> {format_mb(new_median)} MB)"
    )
    if pair.changes:
        moved += f" with {', '.join(pair.changes)}"
    counts = (len(old_levels), len(new_levels))
    if not known:
        lowest = min(counts)
        return PeakChange(
            old_median,
            new_median,
            change_pct,
            *counts,
            allowed,
            None,
            None,
            f"cannot be compared at {_repeats(lowest)}",
            moved,
            None,
        )
    sigma, source = max(known, key=lambda item: item[0])
    noise = detectable_rise(sigma, *counts, noise_factor)
    # How many repeats would bring the noise under the tolerance, when the noise decides.
    needed = repeats_needed(sigma, allowed, noise_factor) if 0 < allowed < noise else None
    if rise > max(allowed, noise):
        outcome = "FAIL"
        message = f"{moved}, over the {percent(tolerance)} tolerance"
        if noise > 0:
            message += f" and the noise of {source}"
    elif warn is not None and rise > max(warn * old_median, noise):
        outcome = "WARN"
        message = (
            f"{moved}, over the {percent(warn)} warning threshold but within the "
            f"{percent(tolerance)} tolerance"
        )
    elif rise > allowed:
        outcome = "noise"
        message = (
            f"{moved}, over the {percent(tolerance)} tolerance but within the noise of "
            f"{source}: noise, not a failure"
        )
    else:
        outcome = "pass"
        message = moved
    return PeakChange(
        old_median,
        new_median,
        change_pct,
        *counts,
        allowed,
        noise,
        source,
        outcome,
        message,
        needed,
    )


def _repeats(count: int) -> str:
    return f"{count} repeat" if count == 1 else f"{count} repeats"


def percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"
