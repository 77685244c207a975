"""The merge gate: whether a set of results may pass CI (a view over results; it never measures).

A memory harness is only useful in CI if a change that makes a worker need more memory stops the
merge, and a run that merely wobbles does not. Cases, their names, the budget and status rules
and the pairing with a baseline are the analysis layer's (``memharness_s3.analysis``), the same
the HTML report uses; this module adds what the gate decides from them:

- every case is judged against the budget and the expected failures (``analysis.verdicts``), by
  the figure its limit's scope makes the kernel enforce: each worker's peak RSS when the limit is
  per worker, the node's charged peak when the node's workers share it (Celery runs and
  ``--memory-scope node``), where any kill fails whatever is expected
  (``analysis.budget_scope``);
- with a baseline, every case is paired with its baseline case (``analysis.compare``: the same
  case, or the same case with changed strategy parameters) and its median peak compared; a rise
  over the tolerance fails, with the parameter change in the message;
- a baseline case the new results lack fails, unless ``allow_missing``; a new case without a
  baseline case is listed, not compared;
- a baseline with no case in common with the results is an error (exit 2), never a PASS;
- an expectation that bounds the cost (``peak - baseline``) and covers no case of the results
  fails when the results have objects in its size range (a regression corpus whose reproduction
  did not run proves nothing); with no object in its range it is a note (the corpus run at
  other sizes, as CI runs it).

Every PASS says what it checked: how many cases against the budget by which figure and scope,
how many compared with the baseline, one PASS or FAIL line per node-scoped case with its node's
charged peak and kills, and one PASS or FAIL line per cost bound with the measured cost and the
bound.
``evaluate`` returns one :class:`Verdict`; ``render_text`` is what ``memharness gate`` prints and
``render_markdown`` the pull-request summary. MB is 10^6 bytes, as everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import WORKER, figure_name
from memharness_s3.analysis.cases import Analysis, CaseRuns
from memharness_s3.analysis.compare import (
    Pair,
    PeakChange,
    compare_peaks,
    pair_cases,
    why_disjoint,
)
from memharness_s3.analysis.expectations import Check
from memharness_s3.analysis.identity import ResultKeys
from memharness_s3.analysis.noise import NoiseFloor
from memharness_s3.analysis.verdicts import (
    NOT_MEASURED,
    covering_expectations,
    judge,
)
from memharness_s3.config.sizes import format_mb, format_size
from memharness_s3.errors import UsageError
from memharness_s3.model.case_fields import format_value
from memharness_s3.model.records import INFRA, Expectation, RunResult

DEFAULT_TOLERANCE = "3%"
DEFAULT_NOISE_FACTOR = 3.0
"""A rise within this many standard errors of the difference of two medians is noise.

The standard error comes from the MAD of the repeats or of a noise floor (``analysis.noise``).
Both defaults were measured (``python -m memharness_s3.experiments.calibrate analyze``, the
README's "How
far the gate can be trusted"): with a floor from other runs of the same code, 3 % and 3 failed
none of 42 one-repeat and 12 three-repeat A/A pairs of the default matrix, caught every +8 MiB
rise in every case but transfer-manager's at 250 MB (whose peak moves by up to 24 MB between
runs), and failed the chunk_size 8 MiB -> 64 MiB change every time at one repeat."""


# ---------------------------------------------------------------------------------------------
# The verdict


@dataclass(frozen=True)
class CaseVerdict:
    """One case's numbers and what the gate made of them."""

    label: str
    case_id: str
    strategy: str
    size_bytes: int
    concurrency: int
    statuses: dict[str, int]
    repeats: int
    median_peak_bytes: float | None
    """Median peak RSS of the ok runs (repeats and workers)."""
    max_peak_bytes: int | None
    """Largest peak RSS any run of the case recorded, whatever its status (``infra`` aside)."""
    spread_bytes: int
    outcome: str
    """``pass``, ``FAIL``, ``WARN``, ``noise``, ``cannot be compared at N repeats``,
    ``expected <status>``, ``missing (allowed)`` or ``not measured (backend unresponsive)``."""
    reasons: tuple[str, ...]
    """Why the case fails; empty when it passes."""
    in_baseline: bool | None = None
    """None when there is no baseline."""
    baseline_label: str | None = None
    baseline_median_peak_bytes: float | None = None
    baseline_repeats: int = 0
    change_pct: float | None = None
    changes: tuple[str, ...] = ()
    """What differs from the baseline case it was compared with (changed parameters)."""
    checks: tuple[Check, ...] = ()
    """The cost bounds of the expectations covering the case, each with what it compared."""
    peak_change: PeakChange | None = None
    """The comparison with the baseline case, with the smallest rise it could detect."""
    scope: str = WORKER
    """``worker`` or ``node``: which figure the budget was checked against."""
    budget_peak_bytes: int | None = None
    """The largest budget figure of an ok run: a worker's peak, or the node's charged peak."""
    killed: int = 0
    measured: int = 0

    @property
    def budget_text(self) -> str:
        """``node charged peak 474.0 MB``: what the budget was checked against."""
        if self.budget_peak_bytes is None:
            return f"{figure_name(self.scope)} not recorded"
        return f"{figure_name(self.scope)} {format_mb(self.budget_peak_bytes)} MB"

    @property
    def failed(self) -> bool:
        return bool(self.reasons)

    @property
    def warned(self) -> bool:
        return self.outcome == "WARN"

    @property
    def compared(self) -> bool:
        return self.change_pct is not None


@dataclass(frozen=True)
class Verdict:
    """Everything ``memharness gate`` decided, in one object."""

    budget_bytes: int
    tolerance: float
    baseline: str | None
    cases: tuple[CaseVerdict, ...]
    notes: tuple[str, ...]
    noise_factor: float = DEFAULT_NOISE_FACTOR
    unmet: tuple[str, ...] = ()
    """Cost expectations that covered no case of the results, each described."""
    warn: float | None = None
    floors: tuple[str, ...] = ()
    """Where the noise floors came from (calibration files, the baseline's history)."""

    @property
    def failures(self) -> tuple[CaseVerdict, ...]:
        return tuple(case for case in self.cases if case.failed)

    @property
    def warnings(self) -> tuple[CaseVerdict, ...]:
        return tuple(case for case in self.cases if case.warned)

    @property
    def unresolved(self) -> tuple[CaseVerdict, ...]:
        """Cases compared with the baseline whose rise could not be told from noise."""
        return tuple(
            case
            for case in self.cases
            if case.peak_change is not None and not case.peak_change.resolved
        )

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every cost bound checked, case by case."""
        return tuple(check for case in self.cases for check in case.checks)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.unmet

    @property
    def outcome_counts(self) -> dict[str, int]:
        return dict(Counter(case.outcome for case in self.cases))

    @property
    def compared_count(self) -> int:
        """How many cases were compared with a baseline case."""
        return sum(1 for case in self.cases if case.compared)

    @property
    def compared_repeats(self) -> str | None:
        """``"3"`` or ``"2-3"`` when cases compared with the baseline had more than one repeat."""
        counts = {
            max(c.repeats, c.baseline_repeats)
            for c in self.cases
            if c.compared and max(c.repeats, c.baseline_repeats) > 1
        }
        if not counts:
            return None
        low, high = min(counts), max(counts)
        return str(low) if low == high else f"{low}-{high}"

    @property
    def detectable_range(self) -> tuple[float, float] | None:
        """The smallest and largest of the compared cases' smallest detectable rises, in %."""
        found = [
            change.detectable_bytes / change.old_median * 100
            for case in self.cases
            if (change := case.peak_change) is not None and change.detectable_bytes is not None
        ]
        return (min(found), max(found)) if found else None


def evaluate(
    results: Sequence[RunResult],
    *,
    budget_bytes: int,
    expectations: Sequence[Expectation] = (),
    baseline: Sequence[RunResult] | None = None,
    baseline_name: str | None = None,
    tolerance: float = 0.03,
    allow_missing: bool = False,
    noise_factor: float = DEFAULT_NOISE_FACTOR,
    warn: float | None = None,
    floors: Sequence[NoiseFloor] = (),
) -> Verdict:
    """Check ``results`` against the budget, the expectations and, if given, a baseline.

    Raises UsageError when a baseline is given but has no case in common with the results.
    ``noise_factor``: how many standard errors of the difference of two medians a rise must
    exceed to fail; ``warn``: a rise above it (and the noise) but within the tolerance warns;
    ``floors``: noise measured between runs of the same code (``analysis.compare``).
    """
    keys = ResultKeys()
    old = Analysis(baseline or [], context={keys(r) for r in results}, keys=keys)
    new = Analysis(results, context=[case.key for case in old.cases], keys=keys)
    pairs: dict[str, Pair] = {}
    notes: list[str] = []
    missing: tuple[CaseRuns, ...] = ()
    if baseline is not None:
        pairing = pair_cases(new.cases, old.cases)
        if not pairing.pairs:
            name = f"baseline {baseline_name}" if baseline_name else "the baseline"
            raise UsageError(
                f"{name} has no case in common with these results, so nothing can be "
                f"compared: {why_disjoint(new.cases, old.cases)}"
            )
        pairs = {pair.new.label: pair for pair in pairing.pairs}
        missing = pairing.baseline_only
        if pairing.new_only:
            names = ", ".join(case.label for case in pairing.new_only)
            notes.append(f"only in the new results (not compared): {names}")
    verdicts = []
    for case in new.cases:
        verdict, case_notes = _check_case(
            case,
            budget_bytes,
            expectations,
            pairs.get(case.label),
            baseline is not None,
            tolerance,
            noise_factor,
            warn,
            floors,
        )
        verdicts.append(verdict)
        notes.extend(case_notes)
    unmet = []
    for expectation in expectations:
        covered = [case for case in new.cases if covering_expectations(case, [expectation])]
        if expectation.bounds_cost:
            sized = any(
                expectation.matches(expectation.strategy, c.key.size_bytes) for c in new.cases
            )
            if not covered and sized:
                unmet.append(f"no case in these results is covered by {_describe(expectation)}")
            elif not covered:
                notes.append(f"not measured at these object sizes: {_describe(expectation)}")
            continue
        excused = [case.label for case in covered if expectation.status in case.statuses]
        rule = (
            f"{_covers(expectation)} on objects of {format_size(expectation.min_size_bytes)} or "
            f"more is expected to end {expectation.status} ({expectation.reason})"
        )
        notes.append(
            f"{rule}: {', '.join(excused)}" if excused else f"{rule}: no case in these results did"
        )
    verdicts += [_missing(case, new.names[case.key], allow_missing) for case in missing]
    unresolved = [v for v in verdicts if v.peak_change is not None and not v.peak_change.resolved]
    if unresolved:
        notes.append(
            f"{len(unresolved)} cases cannot be compared at their repeat count: with fewer than "
            "3 repeats a side the gate needs a noise floor measured between runs (a calibration "
            "file, or several --baseline directories); see the README's 'How far the gate can "
            "be trusted'"
        )
    shown = None if baseline is None else baseline_name or "(unnamed)"
    return Verdict(
        budget_bytes,
        tolerance,
        shown,
        tuple(verdicts),
        tuple(notes),
        noise_factor,
        tuple(unmet),
        warn,
        tuple(floor.source for floor in floors),
    )


def _covers(expectation: Expectation) -> str:
    """The cases an expectation covers, less their sizes: strategy, parameters, step, fault."""
    covers = [expectation.strategy]
    covers += [f"{name}={format_value(value)}" for name, value in expectation.params.items()]
    if expectation.process:
        covers.append(f"process {expectation.process}")
    if expectation.fault:
        covers.append(f"fault {expectation.fault}")
    return " ".join(covers)


def _describe(expectation: Expectation) -> str:
    """An expectation in words: what it covers and what it bounds."""
    sizes = f"objects of {format_size(expectation.min_size_bytes)} or more"
    if expectation.max_size_bytes is not None:
        sizes += f" up to {format_size(expectation.max_size_bytes)}"
    bounds = [
        f"peak - baseline {word} {text}"
        for word, text in ((">=", expectation.cost_at_least), ("<=", expectation.cost_at_most))
        if text is not None
    ]
    issue = f", {expectation.issue}" if expectation.issue else ""
    return (
        f"the expectation {_covers(expectation)} on {sizes}: {' and '.join(bounds)} "
        f"({expectation.reason}{issue})"
    )


def _check_case(
    case: CaseRuns,
    budget_bytes: int,
    expectations: Sequence[Expectation],
    pair: Pair | None,
    has_baseline: bool,
    tolerance: float,
    noise_factor: float,
    warn: float | None,
    floors: Sequence[NoiseFloor],
) -> tuple[CaseVerdict, list[str]]:
    judgement = judge(case, budget_bytes, expectations)
    reasons = list(judgement.reasons)
    notes = [judgement.stale_expectation] if judgement.stale_expectation else []
    change = (
        compare_peaks(pair, tolerance, noise_factor, warn=warn, floors=floors)
        if pair is not None
        else None
    )
    if pair is not None and pair.changes:
        notes.append(
            f"{case.label}: compared with baseline case {pair.old.label} "
            f"({', '.join(pair.changes)})"
        )
    if pair is not None and change is None and pair.old.median_peak is not None:
        notes.append(
            f"{case.label}: no ok run to compare with the baseline's median peak "
            f"{format_mb(pair.old.median_peak)} MB"
        )
    if change is not None and change.outcome == "FAIL":
        reasons.append(f"{change.message}; {change.detects}")
    ok_count = sum(1 for run in case.runs if run.status == "ok")
    if case.infra_count:
        lines = f"{case.infra_count} line{'s' if case.infra_count > 1 else ''}"
        notes.append(
            f"{case.label}: {lines} of runs the backend broke ({INFRA}: it stopped answering; "
            "re-run), not counted"
        )
    if reasons:
        outcome = "FAIL"
    elif change is not None and change.outcome != "pass":
        outcome = change.outcome
    elif judgement.verdict == NOT_MEASURED:
        outcome = f"{NOT_MEASURED} (backend unresponsive)"
    elif ok_count == 0:
        outcome = "expected " + "/".join(sorted(set(case.statuses) - {INFRA}))
    else:
        outcome = "pass"
    all_peaks = [r.peak_rss_bytes for r in case.measured_runs if r.peak_rss_bytes is not None]
    verdict = CaseVerdict(
        label=case.label,
        case_id=case.case_id,
        strategy=case.key.strategy,
        size_bytes=case.key.size_bytes,
        concurrency=case.key.concurrency,
        statuses=case.statuses,
        repeats=case.repeats,
        median_peak_bytes=case.median_peak,
        max_peak_bytes=max(all_peaks) if all_peaks else None,
        spread_bytes=case.spread,
        outcome=outcome,
        reasons=tuple(reasons),
        in_baseline=pair is not None if has_baseline else None,
        baseline_label=pair.old.label if pair else None,
        baseline_median_peak_bytes=pair.old.median_peak if pair else None,
        baseline_repeats=pair.old.repeats if pair else 0,
        change_pct=change.change_pct if change else None,
        changes=pair.changes if pair else (),
        checks=judgement.checks,
        peak_change=change,
        scope=case.scope,
        budget_peak_bytes=case.budget_peak,
        killed=case.killed,
        measured=len(case.measured_runs),
    )
    return verdict, notes


def _missing(case: CaseRuns, label: str, allowed: bool) -> CaseVerdict:
    """A baseline case the new results lack: a failure unless dropping cases is allowed."""
    reasons = (
        ()
        if allowed
        else (
            "in the baseline but missing from these results (pass --allow-missing if it was "
            "dropped on purpose)",
        )
    )
    return CaseVerdict(
        label=label,
        case_id=case.case_id,
        strategy=case.key.strategy,
        size_bytes=case.key.size_bytes,
        concurrency=case.key.concurrency,
        statuses={},
        repeats=0,
        median_peak_bytes=None,
        max_peak_bytes=None,
        spread_bytes=0,
        outcome="missing (allowed)" if allowed else "FAIL",
        reasons=reasons,
        in_baseline=True,
        baseline_label=label,
        baseline_median_peak_bytes=case.median_peak,
        baseline_repeats=case.repeats,
    )


# ---------------------------------------------------------------------------------------------
# Rendering


REASONS_LIMIT = 2000
"""Characters of one printed reason, note or expectation (each may quote an error message)."""
