"""The merge gate: whether a set of results may pass CI (a view over results; it never measures).

A memory harness is only useful in CI if a change that makes a worker need more memory stops the
merge, and a run that merely wobbles does not. So each case (``case_id``: the same settings give
the same id in every run) is checked three ways:

- **budget**: every ``ok`` run's ``peak_rss_bytes`` must be at most the budget. Each run counts,
  not a median: one worker of a prefork pool crossing the cap is the worker that gets killed.
- **status**: a run that ended ``oom``, ``error`` or ``timeout`` fails the gate unless an
  expectation covers it (same strategy, object at least ``min_size_bytes``, the same status), as
  the seed matrix expects read-all to ``oom`` from 500 MB on. Expectations come from the results'
  ``meta.json`` (``settings.expect``) and from ``--expect``. A case expected to fail that ends
  ``ok`` is a note, not a failure: it is good news, but the expectation is now stale.
- **baseline**: cases are matched by ``case_id`` and their median ``peak_rss_bytes`` over all ok
  runs (repeats and, with a process pool, workers) is compared; a rise of more than the tolerance
  fails. Medians, because one slow-to-free worker should not move the verdict. When either side
  has two or more repeats, a rise above the tolerance that is still smaller than the measured
  spread (max - min of the same values the median is taken over, on either side) is reported as
  noise, not a failure: the runs themselves have shown that much variation. Cases present on
  one side only are listed, never failed: adding or dropping a case is not a regression.

``evaluate`` returns one :class:`Verdict`; ``render_text`` is what ``memharness gate`` prints and
``render_markdown`` the pull-request summary. MB here is 10^6 bytes, as everywhere in memharness.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import NoneType
from typing import Any

from memharness_s3.errors import UsageError
from memharness_s3.fixture_cache import resolve_size
from memharness_s3.records import Expectation, RunResult
from memharness_s3.results import META_FILE, RESULTS_FILE, read_results
from memharness_s3.sizes import format_mb, format_size, parse_size

FAILED_STATUSES = ("error", "oom", "timeout")
DEFAULT_TOLERANCE = "10%"

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "case_id": (str,),
    "strategy": (str,),
    "status": (str,),
    "size_bytes": (int,),
    "concurrency": (int,),
    "repeat": (int,),
    "peak_rss_bytes": (int, NoneType),
    "wall_s": (int, float, NoneType),
}
"""The fields the gate and the exports compute with, and the JSON types they must have."""


# ---------------------------------------------------------------------------------------------
# Reading results, meta.json and options


def load_results(path: Path) -> list[RunResult]:
    """Results from a results dir or ``results.jsonl``; malformed input is a one-line UsageError.

    On top of ``read_results`` this rejects an empty file and lines whose numbers are not numbers,
    so that a damaged file is reported as such instead of producing a wrong verdict.
    """
    try:
        results = read_results(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read results at {path}: {exc}") from None
    if not results:
        raise UsageError(f"{path}: no result lines: nothing to check")
    for index, result in enumerate(results):
        for name, types in _FIELD_TYPES.items():
            value = getattr(result, name)
            if not isinstance(value, types) or isinstance(value, bool):
                allowed = " or ".join("null" if t is NoneType else t.__name__ for t in types)
                raise UsageError(
                    f"{_results_file(path)}:{_line_number(path, index)}: {name!r} must be "
                    f"{allowed}, got {json.dumps(value)}"
                )
    return results


def load_meta(path: Path) -> dict[str, Any]:
    """The ``meta.json`` beside the results (``{}`` when there is none)."""
    meta_path = _results_file(path).parent / META_FILE
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{meta_path}: not a memharness meta file ({exc})") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{meta_path}: not a memharness meta file (not a JSON object)")
    return meta


def load_expectations(path: Path) -> list[Expectation]:
    """The expected failures the results were run with (``settings.expect`` in meta.json)."""
    meta = load_meta(path)
    where = _results_file(path).parent / META_FILE
    settings = meta.get("settings", {})
    items = settings.get("expect", []) if isinstance(settings, dict) else None
    if not isinstance(items, list):
        raise UsageError(f"{where}: 'settings.expect' must be a list of expectations")
    expectations = []
    for number, item in enumerate(items, start=1):
        fields = ("strategy", "min_size_bytes", "status", "reason")
        if not isinstance(item, dict) or sorted(item) != sorted(fields):
            raise UsageError(f"{where}: settings.expect entry {number} must have {fields}")
        if not isinstance(item["min_size_bytes"], int) or not all(
            isinstance(item[key], str) for key in ("strategy", "status", "reason")
        ):
            raise UsageError(f"{where}: settings.expect entry {number} has a value of wrong type")
        expectations.append(Expectation(**item))
    return expectations


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


def _results_file(path: Path) -> Path:
    return path / RESULTS_FILE if path.is_dir() else path


def _line_number(path: Path, index: int) -> int:
    """The line of the ``index``-th result (``read_results`` skips blank lines)."""
    lines = _results_file(path).read_text().splitlines()
    return [number for number, line in enumerate(lines, start=1) if line.strip()][index]


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class CaseRuns:
    """The lines of one case in one set of results: repeats x workers of the same settings."""

    runs: tuple[RunResult, ...]

    @property
    def first(self) -> RunResult:
        return self.runs[0]

    @property
    def case_id(self) -> str:
        return self.first.case_id

    @property
    def ok_runs(self) -> list[RunResult]:
        """The ok runs that recorded a peak: the ones every number here is computed from."""
        return [r for r in self.runs if r.status == "ok" and r.peak_rss_bytes is not None]

    @property
    def ok_peaks(self) -> list[int]:
        return [r.peak_rss_bytes for r in self.ok_runs if r.peak_rss_bytes is not None]

    @property
    def repeats(self) -> int:
        """How many repeats have an ok peak."""
        return len({r.repeat for r in self.ok_runs})

    @property
    def median_peak(self) -> float | None:
        peaks = self.ok_peaks
        return statistics.median(peaks) if peaks else None

    @property
    def spread(self) -> int:
        """Max - min of the ok peaks: how much the same case varied between its runs."""
        peaks = self.ok_peaks
        return max(peaks) - min(peaks) if peaks else 0

    @property
    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(r.status for r in self.runs).items()))


def group_cases(results: Iterable[RunResult]) -> list[CaseRuns]:
    """Results grouped by ``case_id``, ordered by object size, concurrency and strategy."""
    grouped: dict[str, list[RunResult]] = {}
    for result in results:
        grouped.setdefault(result.case_id, []).append(result)
    cases = [
        CaseRuns(tuple(sorted(runs, key=lambda r: (r.repeat, r.worker))))
        for runs in grouped.values()
    ]
    return sorted(
        cases, key=lambda c: (c.first.size_bytes, c.first.concurrency, c.first.strategy, c.case_id)
    )


def case_labels(cases: Iterable[CaseRuns], sep: str = " ") -> dict[str, str]:
    """A short name per case id (``chunked 250MB x4``), unique: colliding ones get the id."""
    parts: dict[str, list[str]] = {}
    for case in cases:
        r = case.first
        pieces = [r.strategy, format_size(r.size_bytes).replace(" ", ""), f"x{r.concurrency}"]
        if r.pool == "threads":
            pieces[-1] += "t"
        if r.process != "none":
            pieces.append(r.process)
        parts[case.case_id] = pieces
    names = {case_id: sep.join(pieces) for case_id, pieces in parts.items()}
    counts = Counter(names.values())
    return {
        case_id: name if counts[name] == 1 else f"{name}{sep}{case_id}"
        for case_id, name in names.items()
    }


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
    """Largest peak RSS any run of the case recorded, whatever its status."""
    spread_bytes: int
    outcome: str
    """``pass``, ``FAIL``, ``noise`` or ``expected <status>``."""
    reasons: tuple[str, ...]
    """Why the case fails; empty when it passes."""
    in_baseline: bool | None = None
    """None when there is no baseline."""
    baseline_median_peak_bytes: float | None = None
    baseline_repeats: int = 0
    change_pct: float | None = None

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class Verdict:
    """Everything ``memharness gate`` decided, in one object."""

    budget_bytes: int
    tolerance: float
    baseline: str | None
    cases: tuple[CaseVerdict, ...]
    notes: tuple[str, ...]

    @property
    def failures(self) -> tuple[CaseVerdict, ...]:
        return tuple(case for case in self.cases if case.failed)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def outcome_counts(self) -> dict[str, int]:
        return dict(Counter(case.outcome for case in self.cases))

    @property
    def compared_repeats(self) -> str | None:
        """``"3"`` or ``"2-3"`` when cases compared with the baseline had more than one repeat."""
        counts = {
            max(c.repeats, c.baseline_repeats)
            for c in self.cases
            if c.change_pct is not None and max(c.repeats, c.baseline_repeats) > 1
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
    tolerance: float = 0.10,
) -> Verdict:
    """Check ``results`` against the budget, the expectations and, if given, a baseline."""
    cases = group_cases(results)
    old_cases = {c.case_id: c for c in group_cases(baseline or [])}
    labels = case_labels([*cases, *old_cases.values()])
    notes: list[str] = []
    verdicts = []
    for case in cases:
        old = old_cases.get(case.case_id) if baseline is not None else None
        verdict, case_notes = _check_case(
            case,
            labels[case.case_id],
            budget_bytes,
            expectations,
            old,
            has_baseline=baseline is not None,
            tolerance=tolerance,
        )
        verdicts.append(verdict)
        notes.extend(case_notes)
    for expectation in expectations:
        excused = [
            v.label
            for c, v in zip(cases, verdicts, strict=True)
            if expectation.matches(c.first.strategy, c.first.size_bytes)
            and expectation.status in c.statuses
        ]
        rule = (
            f"{expectation.strategy} on objects of {format_size(expectation.min_size_bytes)} or "
            f"more is expected to end {expectation.status} ({expectation.reason})"
        )
        notes.append(
            f"{rule}: {', '.join(excused)}" if excused else f"{rule}: no case in these results did"
        )
    if baseline is not None:
        new_ids = {c.case_id for c in cases}
        only_new = [labels[c.case_id] for c in cases if c.case_id not in old_cases]
        only_old = [labels[i] for i in old_cases if i not in new_ids]
        if only_new:
            notes.append(f"only in the new results (not compared): {', '.join(only_new)}")
        if only_old:
            notes.append(f"only in the baseline (not compared): {', '.join(only_old)}")
    return Verdict(budget_bytes, tolerance, baseline_name, tuple(verdicts), tuple(notes))


def _check_case(
    case: CaseRuns,
    label: str,
    budget_bytes: int,
    expectations: Sequence[Expectation],
    old: CaseRuns | None,
    *,
    has_baseline: bool,
    tolerance: float,
) -> tuple[CaseVerdict, list[str]]:
    first = case.first
    notes: list[str] = []
    reasons = _budget_reasons(case, budget_bytes)
    applicable = [e for e in expectations if e.matches(first.strategy, first.size_bytes)]
    reasons += _status_reasons(case, {e.status for e in applicable})
    ok_count = sum(1 for run in case.runs if run.status == "ok")
    if applicable and ok_count:
        expectation = applicable[0]
        notes.append(
            f"{label}: expected {expectation.status} ({expectation.reason}), but {ok_count} of "
            f"{len(case.runs)} runs ended ok"
        )
    noise = None
    change_pct = None
    if old is not None and old.median_peak is not None:
        new_median = case.median_peak
        if new_median is None:
            notes.append(
                f"{label}: no ok run to compare with the baseline's median peak "
                f"{format_mb(old.median_peak)} MB"
            )
        else:
            change_pct, regression, noise = _compare(
                new_median,
                old.median_peak,
                max(case.repeats, old.repeats),
                max(case.spread, old.spread),
                tolerance,
            )
            reasons += [regression] if regression else []
            notes += [f"{label}: {noise}"] if noise else []

    if reasons:
        outcome = "FAIL"
    elif noise:
        outcome = "noise"
    elif ok_count == 0:
        outcome = "expected " + "/".join(sorted(case.statuses))
    else:
        outcome = "pass"
    all_peaks = [r.peak_rss_bytes for r in case.runs if r.peak_rss_bytes is not None]
    verdict = CaseVerdict(
        label=label,
        case_id=case.case_id,
        strategy=first.strategy,
        size_bytes=first.size_bytes,
        concurrency=first.concurrency,
        statuses=case.statuses,
        repeats=case.repeats,
        median_peak_bytes=case.median_peak,
        max_peak_bytes=max(all_peaks) if all_peaks else None,
        spread_bytes=case.spread,
        outcome=outcome,
        reasons=tuple(reasons),
        in_baseline=old is not None if has_baseline else None,
        baseline_median_peak_bytes=old.median_peak if old else None,
        baseline_repeats=old.repeats if old else 0,
        change_pct=change_pct,
    )
    return verdict, notes


def _budget_reasons(case: CaseRuns, budget_bytes: int) -> list[str]:
    """Every ok run must have a peak, and at most the budget."""
    reasons = []
    unmeasured = sum(1 for r in case.runs if r.status == "ok" and r.peak_rss_bytes is None)
    if unmeasured:
        reasons.append(f"{unmeasured} ok runs recorded no peak: the budget cannot be checked")
    peaks = case.ok_peaks
    over = [peak for peak in peaks if peak > budget_bytes]
    if over:
        reasons.append(
            f"{len(over)} of {len(peaks)} ok runs above the budget: peak {format_mb(max(over))} MB "
            f"> {format_mb(budget_bytes)} MB"
        )
    return reasons


def _status_reasons(case: CaseRuns, expected_statuses: set[str]) -> list[str]:
    """One reason per status that is neither ok nor expected, with its first run's message."""
    unexpected: dict[str, list[RunResult]] = {}
    for run in case.runs:
        if run.status != "ok" and run.status not in expected_statuses:
            unexpected.setdefault(run.status, []).append(run)
    reasons = []
    for status, runs in unexpected.items():
        example = runs[0]
        detail = f": {example.error}" if example.error else ""
        at = f" (peak {format_mb(example.peak_rss_bytes)} MB)" if example.peak_rss_bytes else ""
        reasons.append(f"{len(runs)} of {len(case.runs)} runs ended {status}{detail}{at}")
    return reasons


def _compare(
    new_median: float, old_median: float, repeats: int, spread: int, tolerance: float
) -> tuple[float, str | None, str | None]:
    """The change of the median peak in %, and the regression (a reason) or the noise (a note).

    ``repeats`` and ``spread`` are the larger of the two sides'.
    """
    change_pct = (new_median - old_median) / old_median * 100
    if new_median <= old_median * (1 + tolerance):
        return change_pct, None, None
    moved = (
        f"median peak rose {change_pct:+.1f}% ({format_mb(old_median)} -> "
        f"{format_mb(new_median)} MB)"
    )
    if repeats >= 2 and new_median - old_median < spread:
        return (
            change_pct,
            None,
            (
                f"{moved}, more than the {_percent(tolerance)} tolerance but less than the "
                f"{format_mb(spread)} MB spread measured over repeats: noise, not a failure"
            ),
        )
    regression = f"{moved}, over the {_percent(tolerance)} tolerance"
    if repeats > 1:
        regression += f"; compared medians of {repeats} repeats (spread {format_mb(spread)} MB)"
    return change_pct, regression, None


# ---------------------------------------------------------------------------------------------
# Rendering


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _budget(budget_bytes: int) -> str:
    binary = f" ({budget_bytes // 2**20} MiB)" if budget_bytes % 2**20 == 0 else ""
    return f"{format_mb(budget_bytes)} MB{binary}"


def _change(case: CaseVerdict) -> str:
    return "-" if case.change_pct is None else f"{case.change_pct:+.1f}%"


def _baseline_cell(case: CaseVerdict) -> str:
    if case.in_baseline is False:
        return "new"
    return format_mb(case.baseline_median_peak_bytes)


def _counts(verdict: Verdict) -> str:
    counts = verdict.outcome_counts
    order = sorted(counts, key=lambda outcome: (outcome != "pass", outcome == "FAIL", outcome))
    parts = [f"{counts[o]} {'failing' if o == 'FAIL' else o}" for o in order]
    if "FAIL" not in counts:
        parts.append("0 failing")
    return f"{len(verdict.cases)} cases: {', '.join(parts)}"


def _settings(verdict: Verdict) -> str:
    text = f"budget {_budget(verdict.budget_bytes)} peak RSS per ok worker run"
    if verdict.baseline is not None:
        text += f"; baseline {verdict.baseline}, tolerance {_percent(verdict.tolerance)}"
        if verdict.compared_repeats:
            text += f", compared medians of {verdict.compared_repeats} repeats"
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
        lines.append(f"FAIL {case.label} [{case.case_id}]: {numbers}: {'; '.join(case.reasons)}")
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
                "strategy",
                "size",
                "concurrency",
                "median peak MB",
                "max peak MB",
                "budget MB",
                "baseline MB",
                "change",
                "why",
            ],
            (
                [
                    f"`{case.case_id}`",
                    case.strategy,
                    format_size(case.size_bytes),
                    str(case.concurrency),
                    format_mb(case.median_peak_bytes),
                    format_mb(case.max_peak_bytes),
                    format_mb(verdict.budget_bytes),
                    _baseline_cell(case),
                    _change(case),
                    "; ".join(case.reasons),
                ]
                for case in verdict.failures
            ),
            align="llrrrrrrrl",
        )
    lines += ["", "### All cases", ""]
    lines += _table(
        [
            "strategy",
            "size",
            "concurrency",
            "median peak MB",
            "baseline MB",
            "change",
            "verdict",
        ],
        (
            [
                case.strategy,
                format_size(case.size_bytes),
                str(case.concurrency),
                format_mb(case.median_peak_bytes),
                _baseline_cell(case),
                _change(case),
                f"**{case.outcome}**" if case.failed else case.outcome,
            ]
            for case in verdict.cases
        ),
        align="lrrrrrl",
    )
    if verdict.notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {_cell(note)}" for note in verdict.notes]
    return "\n".join(lines) + "\n"
