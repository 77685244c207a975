"""The reviewer's question, answered from the cases: for each object size and concurrency that
ran, which strategies fit the budget with headroom, and whether one of them is clearly fastest.

A strategy *fits* a column (size x concurrency) when no run was killed across its repeats, every
run ended ok, and its budget figure stays at most ``(1 - headroom)`` of the budget. The budget
figure is the one the kernel enforces (``analysis.budget_scope``): each worker's peak RSS when
the limit is per worker, the node's charged peak when the workers share it (Celery runs, or
``--memory-scope node``). Never a sum of per-worker peaks, nor a multiple of the budget.

Other verdicts: *k of n killed* when the kernel killed some of its runs (under a shared limit a
partial kill is the expected behaviour near the limit, not noise); *failed* when a run ended
``error`` or ``timeout``; *over* when the figure passed the budget; *tight* when it stays under
the budget but eats into the headroom; *unchecked* when ok runs did not record the figure (a
node-scoped run written before the node's charged peak was measured). A run the backend broke
(``infra``, re-run once) is left out, and a cell with no other run is *not measured*.

Speed only breaks a tie between strategies that fit (``fastest``): the fastest by median fetch
wall time is starred only when it is faster than every other fitting strategy by more than the
spread of their repeats, and never on moto (whose wall times are moto's own reading of the
object, not the download's). Otherwise they are *equal within noise*. Strategies that download
nothing (handing the object to Textract: their wall time is a job's) and strategies the
backend could not measure are never called fastest.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import NODE
from memharness_s3.analysis.cases import Analysis, CaseRuns

DEFAULT_HEADROOM = 0.20

FITS, TIGHT, OVER, FAILED, KILLED = "fits", "tight", "over", "failed", "killed"
UNCHECKED = "unchecked"
NOT_MEASURED = "not measured"

MOTO = "moto"


@dataclass(frozen=True)
class Cell:
    """One strategy in one column: its verdict and what it costs."""

    strategy: str
    """The series name (strategy, and what tells it apart from other series)."""
    verdict: str
    scope: str
    """``worker`` or ``node``: which figure the budget was checked against."""
    budget_peak_bytes: int | None
    """The largest budget figure of an ok run (worker peak or node charged peak)."""
    max_peak_bytes: int | None
    """The largest per-worker peak of an ok run."""
    median_cost_bytes: float | None
    temp_peak_bytes: int | None
    median_wall_s: float | None
    wall_spread_s: float | None
    """Max - min of the repeats' wall times; None with a single repeat."""
    requests: float | None
    statuses: dict[str, int]
    """Every run's status, ``infra`` included (the verdict leaves those out)."""
    killed: int
    measured: int
    """Runs (tasks, workers) that say something of the strategy: all but ``infra``."""
    downloads: bool
    """Whether the strategy brought the object to the worker (textract-direct does not)."""
    backend: str

    @property
    def text(self) -> str:
        """The verdict as the matrix shows it: ``1 of 12 killed`` rather than ``killed``."""
        if self.verdict == KILLED:
            return f"{self.killed} of {self.measured} killed"
        return self.verdict


@dataclass(frozen=True)
class Speed:
    """Whether one of the fitting strategies is clearly fastest, and why not when none is."""

    fastest: str | None
    """Faster than every other candidate by more than their repeats' spread (not on moto)."""
    tied: tuple[str, ...]
    """With no clear winner: the candidates equal within noise of the quickest."""
    why: str
    """Why speed could not break the tie (empty with a winner or a single candidate)."""


@dataclass(frozen=True)
class Column:
    """One object size at one concurrency, every strategy measured there."""

    size_bytes: int
    concurrency: int
    cells: tuple[Cell, ...]
    speed: Speed

    @property
    def fastest(self) -> str | None:
        return self.speed.fastest

    @property
    def fitting(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.verdict == FITS]


@dataclass(frozen=True)
class Decision:
    budget_bytes: int
    headroom: float
    columns: tuple[Column, ...]
    greyed: frozenset[str] = frozenset()
    """Strategies the backend could not measure: no verdict is drawn for them."""

    @property
    def strategies(self) -> list[str]:
        return sorted({cell.strategy for column in self.columns for cell in column.cells})

    def column(self, size_bytes: int, concurrency: int) -> Column | None:
        for column in self.columns:
            if (column.size_bytes, column.concurrency) == (size_bytes, concurrency):
                return column
        return None


def decide(
    analysis: Analysis,
    budget_bytes: int,
    headroom: float = DEFAULT_HEADROOM,
    greyed: Collection[str] = (),
) -> Decision:
    """The decision matrix of ``analysis`` against ``budget_bytes``; ``greyed``: strategies
    (series names) the backend could not measure, never fitting nor fastest."""
    columns: dict[tuple[int, int], list[Cell]] = {}
    for case in analysis.cases:
        name = analysis.series_of(case.first).name
        column = columns.setdefault((case.key.size_bytes, case.key.concurrency), [])
        column.append(_cell(name, case, budget_bytes, headroom))
    return Decision(
        budget_bytes,
        headroom,
        tuple(
            Column(size, concurrency, tuple(cells), column_speed(cells, greyed))
            for (size, concurrency), cells in sorted(columns.items())
        ),
        frozenset(greyed),
    )


def verdict_of(case: CaseRuns, budget_bytes: int, headroom: float = DEFAULT_HEADROOM) -> str:
    """The case's verdict against the budget (module docstring)."""
    measured = {r.status for r in case.measured_runs}
    figure = case.budget_peak
    if not measured:
        return NOT_MEASURED
    if case.killed:
        return KILLED
    if measured != {"ok"}:
        return FAILED
    if figure is not None and figure > budget_bytes:
        return OVER
    if figure is None or case.unmeasured_budget_runs:
        return UNCHECKED
    if figure > (1 - headroom) * budget_bytes:
        return TIGHT
    return FITS


def _cell(name: str, case: CaseRuns, budget_bytes: int, headroom: float) -> Cell:
    temp = [r.temp_peak_bytes for r in case.runs]
    return Cell(
        strategy=name,
        verdict=verdict_of(case, budget_bytes, headroom),
        scope=case.scope,
        budget_peak_bytes=case.budget_peak,
        max_peak_bytes=case.max_peak,
        median_cost_bytes=case.median_ok(lambda r: r.strategy_cost_bytes),
        temp_peak_bytes=max(temp) if temp else None,
        median_wall_s=case.median_ok(lambda r: r.wall_s),
        wall_spread_s=case.wall_spread,
        requests=case.median_ok(lambda r: _requests(r.details)),
        statuses=case.statuses,
        killed=case.killed,
        measured=len(case.measured_runs),
        downloads=any(r.bytes_fetched for r in case.ok_runs),
        backend=case.first.backend,
    )


def _requests(details: dict[str, object]) -> float | None:
    value = details.get("requests")
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Timed:
    """A candidate for fastest: its wall time and the spread of its repeats."""

    name: str
    wall_s: float
    spread_s: float | None


def fastest_of(candidates: Sequence[Timed], moto: bool) -> Speed:
    """The clear winner among ``candidates`` or, when there is none, who ties and why."""
    if not candidates:
        return Speed(None, (), "")
    ordered = sorted(candidates, key=lambda c: (c.wall_s, c.name))
    best = ordered[0]
    if len(ordered) == 1:
        return Speed(best.name, (), "")
    if moto:
        why = "on moto, whose wall times are its own reading of the object, not the download's"
        return Speed(None, tuple(c.name for c in ordered), why)
    tied = [best.name]
    unknown = False
    for other in ordered[1:]:
        spreads = (best.spread_s, other.spread_s)
        if None in spreads:
            unknown = True
            tied.append(other.name)
        elif other.wall_s - best.wall_s <= max(s or 0.0 for s in spreads):
            tied.append(other.name)
    if len(tied) == 1:
        return Speed(best.name, (), "")
    why = (
        "one repeat cannot tell a speed difference from noise (--repeat 3)"
        if unknown
        else "their differences are within the spread of their repeats"
    )
    return Speed(None, tuple(tied), why)


def column_speed(cells: Sequence[Cell], greyed: Collection[str] = ()) -> Speed:
    """The column's speed verdict among the fitting strategies that download and were
    measured (module docstring)."""
    timed = [
        Timed(c.strategy, c.median_wall_s, c.wall_spread_s)
        for c in cells
        if c.verdict == FITS
        and c.downloads
        and c.median_wall_s is not None
        and c.strategy not in greyed
    ]
    return fastest_of(timed, any(c.backend == MOTO for c in cells))


def scope_words(scopes: Collection[str]) -> str:
    """How the budget applies: ``per worker``, ``shared by each node's workers``, or both."""
    words = {"worker": "per worker", NODE: "shared by each node's workers"}
    return " / ".join(words[s] for s in ("worker", NODE) if s in scopes)
