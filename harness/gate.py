"""The merge gate: whether a set of results may pass CI (a view over results; it never measures).

A memory harness is only useful in CI if a change that makes a worker need more memory stops the
merge, and a run that merely wobbles does not. Cases, their names, the budget and status rules
and the pairing with a baseline are the analysis layer's (``memharness_s3.analysis``), the same
the HTML report uses; this module adds what the gate decides from them:

- every case is judged against the budget and the expected failures (``analysis.verdicts``);
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

Every PASS says what it checked: how many cases against the budget, how many compared with the
baseline, and one PASS or FAIL line per cost bound with the measured cost and the bound.
``evaluate`` returns one :class:`Verdict`; ``render_text`` is what ``memharness gate`` prints and
``render_markdown`` the pull-request summary. MB is 10^6 bytes, as everywhere.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import Analysis, CaseRuns
from memharness_s3.analysis.compare import Pair, compare_peaks, pair_cases, percent, why_disjoint
from memharness_s3.analysis.expectations import Check
from memharness_s3.analysis.identity import format_value, key_of_result
from memharness_s3.analysis.verdicts import (
    FAILED_STATUSES,
    NOT_MEASURED,
    covering_expectations,
    judge,
)
from memharness_s3.errors import UsageError
from memharness_s3.fixture_cache import resolve_size
from memharness_s3.records import INFRA, Expectation, RunResult
from memharness_s3.sizes import format_mb, format_size, parse_size

DEFAULT_TOLERANCE = "3%"
DEFAULT_NOISE_FACTOR = 3.0
"""A rise smaller than this many times the spread measured over repeats is noise.

Both defaults come from the calibration experiment (``python -m memharness_s3.calibrate``, the
README's "How far the gate can be trusted"): 31 runs of the default matrix with ``--repeat 3``,
all 930 ordered pairs. The former 10 % and 1x failed 78 of those A/A pairs (transfer-manager,
whose peak varies by up to 26 MB between runs of the same code) and caught 60 % of a +5 %
(at least 8 MiB) rise; 3 % and 3x failed none and caught every such rise in every case but
transfer-manager's."""


# ---------------------------------------------------------------------------------------------
# Options


def parse_expectation(text: str) -> Expectation:
    """``--expect STRATEGY:MIN_SIZE:STATUS``, e.g. ``read-all:500MB:oom`` or ``read-all:large:oom``.

    Only failure statuses: an expectation excuses a run that did not end ok.
    """
    parts = text.split(":")
    if len(parts) != 3 or not all(part.strip() for part in parts):
        raise UsageError(
            f"malformed --expect {text!r}: expected STRATEGY:MIN_SIZE:STATUS, "
            "e.g. read-all:500MB:oom"
        )
    strategy, size, status = (part.strip() for part in parts)
    if status not in FAILED_STATUSES:
        raise UsageError(
            f"--expect {text!r}: status must be one of {', '.join(FAILED_STATUSES)}, got {status!r}"
        )
    try:
        _, min_size = resolve_size(size)
    except UsageError as exc:
        raise UsageError(f"--expect {text!r}: {exc}") from None
    return Expectation(strategy, min_size, status, f"--expect {text}")


def parse_budget(text: str) -> int:
    """``--budget 512MiB``: the largest peak RSS an ok worker run may reach, in bytes."""
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"--budget: {exc}") from None


def parse_tolerance(text: str) -> float:
    """``--tolerance 10%`` or ``0.1`` as a fraction; a bare number of 1 or more is ambiguous."""
    cleaned = text.strip()
    try:
        value = float(cleaned.removesuffix("%"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(
            f"malformed --tolerance {text!r}: expected a percentage such as 10% or 0.1"
        )
    if cleaned.endswith("%"):
        return value / 100
    if value >= 1:
        raise UsageError(
            f"ambiguous --tolerance {text!r}: write a percentage ({text}%) or a fraction below 1"
        )
    return value


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
    """``pass``, ``FAIL``, ``noise``, ``expected <status>``, ``missing (allowed)`` or ``not
    measured (backend unresponsive)``."""
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

    @property
    def failed(self) -> bool:
        return bool(self.reasons)

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

    @property
    def failures(self) -> tuple[CaseVerdict, ...]:
        return tuple(case for case in self.cases if case.failed)

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
) -> Verdict:
    """Check ``results`` against the budget, the expectations and, if given, a baseline.

    Raises UsageError when a baseline is given but has no case in common with the results.
    ``noise_factor`` scales the repeat spread a rise must exceed to fail (``analysis.compare``).
    """
    old = Analysis(baseline or [], context=[key_of_result(r) for r in results])
    new = Analysis(results, context=[case.key for case in old.cases])
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
    single = [v.label for v in verdicts if v.compared and max(v.repeats, v.baseline_repeats) < 2]
    if single:
        notes.append(
            f"{len(single)} cases were compared on a single repeat each side, with no spread to "
            "read noise from: the tolerance alone decides (run with --repeat 3; see the README's "
            "'How far the gate can be trusted')"
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
) -> tuple[CaseVerdict, list[str]]:
    judgement = judge(case, budget_bytes, expectations)
    reasons = list(judgement.reasons)
    notes = [judgement.stale_expectation] if judgement.stale_expectation else []
    change = compare_peaks(pair, tolerance, noise_factor) if pair is not None else None
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
    if change is not None and change.regression:
        reasons.append(change.regression)
    if change is not None and change.noise:
        notes.append(f"{case.label}: {change.noise}")
    ok_count = sum(1 for run in case.runs if run.status == "ok")
    if case.infra_count:
        lines = f"{case.infra_count} line{'s' if case.infra_count > 1 else ''}"
        notes.append(
            f"{case.label}: {lines} of runs the backend broke ({INFRA}: it stopped answering; "
            "re-run), not counted"
        )
    if reasons:
        outcome = "FAIL"
    elif change is not None and change.noise:
        outcome = "noise"
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


def _budget(budget_bytes: int) -> str:
    binary = f" ({budget_bytes // 2**20} MiB)" if budget_bytes % 2**20 == 0 else ""
    return f"{format_mb(budget_bytes)} MB{binary}"


def _change(case: CaseVerdict) -> str:
    return "-" if case.change_pct is None else f"{case.change_pct:+.1f}%"


def _baseline_cell(case: CaseVerdict) -> str:
    if case.in_baseline is False:
        return "new"
    cell = format_mb(case.baseline_median_peak_bytes)
    return f"{cell} ({', '.join(case.changes)})" if case.changes else cell


def _counts(verdict: Verdict) -> str:
    counts = verdict.outcome_counts
    order = sorted(counts, key=lambda outcome: (outcome != "pass", outcome == "FAIL", outcome))
    parts = [f"{counts[o]} {'failing' if o == 'FAIL' else o}" for o in order]
    if "FAIL" not in counts:
        parts.append("0 failing")
    return f"{len(verdict.cases)} cases: {', '.join(parts)}"


def _settings(verdict: Verdict) -> str:
    """What the verdict compared: the budget, and how many cases against which baseline."""
    checked = sum(1 for case in verdict.cases if case.statuses)
    text = (
        f"{checked} cases checked against the budget {_budget(verdict.budget_bytes)} peak RSS "
        "per ok worker run"
    )
    if verdict.baseline is not None:
        text += (
            f"; {verdict.compared_count} compared with baseline {verdict.baseline} (tolerance "
            f"{percent(verdict.tolerance)}"
        )
        if verdict.compared_repeats:
            text += (
                f", medians of {verdict.compared_repeats} repeats, rises within "
                f"{verdict.noise_factor:g}x their spread taken as noise"
            )
        text += ")"
    checks = verdict.checks
    if checks or verdict.unmet:
        held = sum(1 for check in checks if check.passed)
        text += f"; {held} of {len(checks) + len(verdict.unmet)} expected cost bounds held"
    return text


def render_text(verdict: Verdict) -> str:
    """What ``memharness gate`` prints: one line per failing case, notes, then PASS or FAIL."""
    lines = []
    for case in verdict.failures:
        numbers = (
            f"median peak {format_mb(case.median_peak_bytes)} MB, "
            f"max {format_mb(case.max_peak_bytes)} MB, budget {format_mb(verdict.budget_bytes)} MB"
        )
        if case.in_baseline:
            numbers += f", baseline {format_mb(case.baseline_median_peak_bytes)} MB"
            numbers += f" ({_change(case)})"
        if case.changes:
            numbers += f", baseline case {case.baseline_label}"
        lines.append(f"FAIL {case.label} [{case.case_id}]: {numbers}: {'; '.join(case.reasons)}")
    lines.extend(
        f"{'PASS' if check.passed else 'FAIL'} expect {check.text}" for check in verdict.checks
    )
    lines.extend(f"FAIL expect: {unmet}" for unmet in verdict.unmet)
    lines.extend(f"note: {note}" for note in verdict.notes)
    word = "PASS" if verdict.passed else "FAIL"
    lines.append(f"{word}: {_counts(verdict)}; {_settings(verdict)} (MB = 10^6 bytes)")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A Markdown table; ``align`` has one letter per column: ``l`` text, ``r`` numbers."""
    rules = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rules) + " |"]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def render_markdown(verdict: Verdict) -> str:
    """A pull-request summary: headline, failures, every case, notes."""
    word = "PASS" if verdict.passed else "FAIL"
    mark = "✅" if verdict.passed else "❌"
    lines = [
        f"## {mark} memharness gate: {word}",
        "",
        f"**{_counts(verdict)}.**",
        "",
        f"Checked against: {_settings(verdict)}. MB = 10^6 bytes; peak = the worker's kernel "
        "high-water mark of resident memory (VmHWM).",
    ]
    if verdict.failures:
        lines += ["", f"### Failures ({len(verdict.failures)})", ""]
        lines += _table(
            [
                "case",
                "id",
                "median peak MB",
                "max peak MB",
                "budget MB",
                "baseline MB",
                "change",
                "why",
            ],
            (
                [
                    case.label,
                    f"`{case.case_id}`",
                    format_mb(case.median_peak_bytes),
                    format_mb(case.max_peak_bytes),
                    format_mb(verdict.budget_bytes),
                    _baseline_cell(case),
                    _change(case),
                    "; ".join(case.reasons),
                ]
                for case in verdict.failures
            ),
            align="llrrrrrl",
        )
    lines += ["", "### All cases", ""]
    lines += _table(
        ["case", "median peak MB", "baseline MB", "change", "verdict"],
        (
            [
                case.label,
                format_mb(case.median_peak_bytes),
                _baseline_cell(case),
                _change(case),
                f"**{case.outcome}**" if case.failed else case.outcome,
            ]
            for case in verdict.cases
        ),
        align="lrrrl",
    )
    if verdict.checks or verdict.unmet:
        lines += ["", "### Expected costs (peak - baseline)", ""]
        lines += [
            f"- {'PASS' if check.passed else '**FAIL**'} {_cell(check.text)}"
            for check in verdict.checks
        ]
        lines += [f"- **FAIL** {_cell(unmet)}" for unmet in verdict.unmet]
    if verdict.notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {_cell(note)}" for note in verdict.notes]
    return "\n".join(lines) + "\n"
