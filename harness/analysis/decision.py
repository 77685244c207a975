"""The reviewer's question, answered from the cases: for each object size and concurrency that
ran, which strategies fit the budget with headroom, and the fastest of those.

A strategy *fits* a column (size x concurrency) when every run ended ok and its largest
per-worker peak is at most ``(1 - headroom)`` of the budget, and, with several workers, their
largest simultaneous sum (the aggregate peak) is at most the number of workers times that: the
same test for workers that each have a cap and for workers that share one container sized for
them all. It is *tight* when it stays under the budget but eats into the headroom, *over* when a
peak passes the budget, *failed* when a run did not end ok (an ``oom`` at a cap included).
A run the backend broke (``infra``, re-run once) is not the strategy's: it is left out, and a
cell with no other run is *not measured*.
Among the strategies that fit, the fastest is the one with the smallest median wall time of the
fetch; strategies that download nothing (handing the object to Textract: their wall time is a
job's, not a download's) are listed but never called fastest, since they answer another
question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.cases import Analysis, CaseRuns, median_of
from memharness_s3.model.records import INFRA, workers_of

DEFAULT_HEADROOM = 0.20

FITS, TIGHT, OVER, FAILED = "fits", "tight", "over", "failed"
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Cell:
    """One strategy in one column: its verdict and what it costs."""

    strategy: str
    """The series name (strategy, and what tells it apart from other series)."""
    verdict: str
    max_peak_bytes: int | None
    median_cost_bytes: float | None
    aggregate_bytes: float | None
    temp_peak_bytes: int | None
    median_wall_s: float | None
    requests: float | None
    statuses: dict[str, int]
    """Every run's status, ``infra`` included (the verdict leaves those out)."""
    downloads: bool
    """Whether the strategy brought the object to the worker (textract-direct does not)."""


@dataclass(frozen=True)
class Column:
    """One object size at one concurrency, every strategy measured there."""

    size_bytes: int
    concurrency: int
    cells: tuple[Cell, ...]
    fastest: str | None
    """The fitting strategy with the smallest median wall time, if any fits."""


@dataclass(frozen=True)
class Decision:
    budget_bytes: int
    headroom: float
    columns: tuple[Column, ...]

    @property
    def strategies(self) -> list[str]:
        return sorted({cell.strategy for column in self.columns for cell in column.cells})

    def column(self, size_bytes: int, concurrency: int) -> Column | None:
        for column in self.columns:
            if (column.size_bytes, column.concurrency) == (size_bytes, concurrency):
                return column
        return None


def decide(analysis: Analysis, budget_bytes: int, headroom: float = DEFAULT_HEADROOM) -> Decision:
    """The decision matrix of ``analysis`` against ``budget_bytes``."""
    columns: dict[tuple[int, int], list[Cell]] = {}
    for case in analysis.cases:
        name = analysis.series_of(case.first).name
        column = columns.setdefault((case.key.size_bytes, case.key.concurrency), [])
        column.append(_cell(name, case, budget_bytes, headroom))
    return Decision(
        budget_bytes,
        headroom,
        tuple(
            Column(size, concurrency, tuple(cells), _fastest(cells))
            for (size, concurrency), cells in sorted(columns.items())
        ),
    )


def _cell(name: str, case: CaseRuns, budget_bytes: int, headroom: float) -> Cell:
    workers = workers_of(case.key.concurrency, case.key.pool)
    aggregate = median_of(case.runs, lambda r: r.aggregate_peak_rss_bytes)
    limit = (1 - headroom) * budget_bytes
    peak = case.max_peak
    measured = set(case.statuses) - {INFRA}
    if not measured:
        verdict = NOT_MEASURED
    elif measured != {"ok"} or peak is None:
        verdict = FAILED
    elif peak > budget_bytes or (workers > 1 and (aggregate or 0) > workers * budget_bytes):
        verdict = OVER
    elif peak > limit or (workers > 1 and (aggregate or 0) > workers * limit):
        verdict = TIGHT
    else:
        verdict = FITS
    temp = [r.temp_peak_bytes for r in case.runs]
    return Cell(
        strategy=name,
        verdict=verdict,
        max_peak_bytes=peak,
        median_cost_bytes=case.median_ok(lambda r: r.strategy_cost_bytes),
        aggregate_bytes=aggregate,
        temp_peak_bytes=max(temp) if temp else None,
        median_wall_s=case.median_ok(lambda r: r.wall_s),
        requests=case.median_ok(lambda r: _requests(r.details)),
        statuses=case.statuses,
        downloads=any(r.bytes_fetched for r in case.ok_runs),
    )


def _requests(details: dict[str, object]) -> float | None:
    value = details.get("requests")
    return float(value) if isinstance(value, int | float) else None


def _fastest(cells: Sequence[Cell]) -> str | None:
    timed = [c for c in cells if c.verdict == FITS and c.downloads and c.median_wall_s is not None]
    return (
        min(timed, key=lambda c: (c.median_wall_s or 0.0, c.strategy)).strategy if timed else None
    )
