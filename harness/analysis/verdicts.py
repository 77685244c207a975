"""A case judged against the per-worker budget and the expected failures: one rule for every view.

- **budget**: every ``ok`` run's ``peak_rss_bytes`` must be at most the budget. Each run counts,
  not a median: one worker of a prefork pool crossing the cap is the worker that gets killed. An
  ok run that recorded no peak fails too: the budget cannot be checked.
- **status**: a run that ended ``oom``, ``error`` or ``timeout`` fails unless an expectation
  covers it (same strategy, object at least ``min_size_bytes``, the same status), as the seed
  matrix expects read-all to ``oom`` from 500 MB on. A case expected to fail that ends ``ok`` is
  flagged (the expectation is stale), not failed.

The HTML report's verdict column and the gate's outcome are both this judgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import CaseRuns
from memharness_s3.records import Expectation, RunResult
from memharness_s3.sizes import format_mb

FAILED_STATUSES = ("error", "oom", "timeout")


@dataclass(frozen=True)
class Judgement:
    """What the budget and the expectations make of one case."""

    verdict: str
    """``ok``, ``over budget``, a failing status (``oom``, ``error``, ``timeout``), that status
    prefixed with ``expected``, or ``ok (expected oom)`` when an expected failure did not
    happen."""
    reasons: tuple[str, ...]
    """Why the case fails, in words; empty when it does not."""
    expectation: Expectation | None
    """The first expectation that covers the case."""
    stale_expectation: str | None
    """Set when the case was expected to fail and some of its runs ended ok."""

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


def judge(case: CaseRuns, budget_bytes: int, expectations: Sequence[Expectation]) -> Judgement:
    """The case's verdict and the reasons it fails, if it does."""
    covering = [e for e in expectations if e.matches(case.key.strategy, case.key.size_bytes)]
    expected = {e.status for e in covering}
    reasons = _budget_reasons(case, budget_bytes) + _status_reasons(case, expected)
    expectation = covering[0] if covering else None
    ok_count = sum(1 for run in case.runs if run.status == "ok")
    stale = None
    if expectation is not None and ok_count:
        stale = (
            f"{case.label}: expected {expectation.status} ({expectation.reason}), but {ok_count} "
            f"of {len(case.runs)} runs ended ok"
        )
    failures = sorted({r.status for r in case.runs if r.status != "ok"})
    if failures:
        status = "oom" if "oom" in failures else failures[0]
        verdict = f"expected {status}" if status in expected else status
    else:
        peaks = case.ok_peaks
        verdict = "over budget" if peaks and max(peaks) > budget_bytes else "ok"
        if expectation is not None and expectation.status != "ok":
            verdict += f" (expected {expectation.status})"
    return Judgement(verdict, tuple(reasons), expectation, stale)


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
