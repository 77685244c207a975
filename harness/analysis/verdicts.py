"""A case judged against the per-worker budget and the expected failures: one rule for every view.

- **budget**: every ``ok`` run's ``peak_rss_bytes`` must be at most the budget. Each run counts,
  not a median: one worker of a prefork pool crossing the cap is the worker that gets killed. An
  ok run that recorded no peak fails too: the budget cannot be checked.
- **status**: a run that ended ``oom``, ``error`` or ``timeout`` fails unless an expectation
  covers it (same strategy, object at least ``min_size_bytes``, the same status), as the seed
  matrix expects read-all to ``oom`` from 500 MB on. A case expected to fail that ends ``ok`` is
  flagged (the expectation is stale), not failed. An expectation covers a case when the
  strategy and size match and, where it names them, the strategy parameters, the processing
  step and the fault do too.
- **cost**: an expectation covering the case may bound ``peak - baseline`` of its ok runs from
  below (a trap: at least 0.9 x the object) or above (a fix: at most 2 parts); a bound that does
  not hold fails the case, and every bound checked says what it compared
  (``analysis.expectations``).
- **infra**: a run the backend broke (status ``infra``, re-run once) is never held against the
  strategy; a case with no other run is ``not measured``.

The HTML report's verdict column and the gate's outcome are both this judgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import CaseRuns
from memharness_s3.analysis.expectations import Check, expectation_checks
from memharness_s3.config.sizes import format_mb
from memharness_s3.model.records import Expectation, RunResult

FAILED_STATUSES = ("error", "oom", "timeout")
NOT_MEASURED = "not measured"
"""The verdict of a case whose every run the backend broke (``infra``)."""


@dataclass(frozen=True)
class Judgement:
    """What the budget and the expectations make of one case."""

    verdict: str
    """``ok``, ``over budget``, a failing status (``oom``, ``error``, ``timeout``), that status
    prefixed with ``expected``, ``ok (expected oom)`` when an expected failure did not
    happen, or ``not measured`` when the backend broke every run."""
    reasons: tuple[str, ...]
    """Why the case fails, in words; empty when it does not."""
    expectation: Expectation | None
    """The first expectation covering the case that expects a failure status."""
    stale_expectation: str | None
    """Set when the case was expected to fail and some of its runs ended ok."""
    checks: tuple[Check, ...] = ()
    """The cost bounds of the covering expectations, each held against the ok runs."""

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


def judge(case: CaseRuns, budget_bytes: int, expectations: Sequence[Expectation]) -> Judgement:
    """The case's verdict and the reasons it fails, if it does."""
    covering = covering_expectations(case, expectations)
    expected = {e.status for e in covering}
    checks = expectation_checks(
        case.label, case.runs, case.key.size_bytes, dict(case.key.params), covering
    )
    reasons = (
        _budget_reasons(case, budget_bytes)
        + _status_reasons(case, expected)
        + [f"expected {check.text}" for check in checks if not check.passed]
    )
    expectation = next((e for e in covering if e.status != "ok"), None)
    measured = case.measured_runs
    ok_count = sum(1 for run in measured if run.status == "ok")
    stale = None
    if expectation is not None and ok_count:
        stale = (
            f"{case.label}: expected {expectation.status} ({expectation.reason}), but {ok_count} "
            f"of {len(measured)} runs ended ok"
        )
    failures = sorted({r.status for r in measured if r.status != "ok"})
    if not measured:
        verdict = NOT_MEASURED
    elif failures:
        status = "oom" if "oom" in failures else failures[0]
        verdict = f"expected {status}" if status in expected else status
    else:
        peaks = case.ok_peaks
        verdict = "over budget" if peaks and max(peaks) > budget_bytes else "ok"
        if expectation is not None and expectation.status != "ok":
            verdict += f" (expected {expectation.status})"
    return Judgement(verdict, tuple(reasons), expectation, stale, tuple(checks))


def covering_expectations(case: CaseRuns, expectations: Sequence[Expectation]) -> list[Expectation]:
    """The expectations that cover ``case``, in the order given."""
    key = case.key
    params = dict(key.params)
    return [
        e
        for e in expectations
        if e.covers(key.strategy, key.size_bytes, params, key.process, key.fault)
    ]


def _budget_reasons(case: CaseRuns, budget_bytes: int) -> list[str]:
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
    measured = case.measured_runs
    for run in measured:
        if run.status != "ok" and run.status not in expected_statuses:
            unexpected.setdefault(run.status, []).append(run)
    reasons = []
    for status, runs in unexpected.items():
        example = runs[0]
        detail = f": {example.error}" if example.error else ""
        at = f" (peak {format_mb(example.peak_rss_bytes)} MB)" if example.peak_rss_bytes else ""
        reasons.append(f"{len(runs)} of {len(measured)} runs ended {status}{detail}{at}")
    return reasons
