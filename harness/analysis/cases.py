"""Runs grouped into cases and series, with the statistics every view shows.

``Analysis`` is built once from a list of results (and, for the gate, the baseline's keys, so
that names tell both sides apart) and is the only place runs are grouped: the gate, the HTML
report, the terminal summary and the exports all read its ``cases`` and ``series``.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import budget_figure, scope_of
from memharness_s3.analysis.identity import CaseKey, ResultKeys, labels
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.paused_gc import paused_gc

KILLED = "oom"
"""The status of a run the kernel (or the watchdog) killed at its memory limit."""


def median_of(
    runs: Iterable[RunResult], value: Callable[[RunResult], float | None]
) -> float | None:
    """The median of ``value`` over the runs that have it, or None."""
    values = [v for v in map(value, runs) if v is not None]
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class CaseRuns:
    """One case's lines: its repeats x workers, and the numbers computed from them."""

    key: CaseKey
    label: str
    runs: tuple[RunResult, ...]

    @property
    def case_id(self) -> str:
        return self.key.case_id

    @property
    def first(self) -> RunResult:
        return self.runs[0]

    @property
    def measured_runs(self) -> list[RunResult]:
        """The runs that say something of the strategy: every run but those the backend broke
        (``infra``), which were re-run."""
        return [r for r in self.runs if r.status != INFRA]

    @property
    def infra_count(self) -> int:
        """Lines of runs the backend broke (``infra``)."""
        return sum(1 for r in self.runs if r.status == INFRA)

    @property
    def ok_runs(self) -> list[RunResult]:
        """The ok runs that recorded a peak: the ones the peak statistics are computed from."""
        return [r for r in self.runs if r.status == "ok" and r.peak_rss_bytes is not None]

    @property
    def ok_peaks(self) -> list[int]:
        return [r.peak_rss_bytes for r in self.ok_runs if r.peak_rss_bytes is not None]

    @property
    def repeats(self) -> int:
        """How many repeats have an ok peak."""
        return len({r.repeat for r in self.ok_runs})

    @property
    def run_count(self) -> int:
        """How many runs of the case (repeats), whatever their workers and statuses."""
        return len({(r.repeat, r.group_id) for r in self.runs})

    @property
    def median_peak(self) -> float | None:
        peaks = self.ok_peaks
        return statistics.median(peaks) if peaks else None

    @property
    def shown_peak(self) -> float | None:
        """The median ok peak; when no run was ok, the median of the failed runs' last peaks."""
        if self.ok_peaks:
            return self.median_peak
        return median_of(self.runs, lambda r: r.peak_rss_bytes)

    @property
    def max_peak(self) -> int | None:
        """The largest peak of an ok run: what the budget is checked against."""
        return max(self.ok_peaks, default=None)

    @property
    def spread(self) -> int:
        """Max - min of the ok peaks: how much the same case varied between its runs."""
        peaks = self.ok_peaks
        return max(peaks) - min(peaks) if peaks else 0

    @property
    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(r.status for r in self.runs).items()))

    def median_ok(self, value: Callable[[RunResult], float | None]) -> float | None:
        """The median of ``value`` over the ok runs."""
        return median_of((r for r in self.runs if r.status == "ok"), value)

    @property
    def scope(self) -> str:
        """The scope of the case's memory limit (``analysis.budget_scope``)."""
        return scope_of(self.first)

    @property
    def killed(self) -> int:
        """How many of its measured runs (tasks, workers) were killed at the memory limit."""
        return sum(1 for r in self.measured_runs if r.status == KILLED)

    @property
    def budget_peak(self) -> int | None:
        """The largest budget figure of an ok run (a worker's peak, or the node's charged peak
        for node scope): what the budget is checked against."""
        figures = [f for r in self.runs if r.status == "ok" and (f := budget_figure(r)) is not None]
        return max(figures, default=None)

    @property
    def unmeasured_budget_runs(self) -> int:
        """Ok runs that recorded no budget figure: the budget cannot be checked on them."""
        return sum(1 for r in self.runs if r.status == "ok" and budget_figure(r) is None)

    @property
    def repeat_walls(self) -> list[float]:
        """Each repeat's median fetch wall time over its ok workers: one measurement a repeat."""
        walls: dict[tuple[int, str], list[float]] = {}
        for r in self.runs:
            if r.status == "ok" and r.wall_s is not None:
                walls.setdefault((r.repeat, r.group_id), []).append(r.wall_s)
        return [statistics.median(values) for values in walls.values()]

    @property
    def wall_spread(self) -> float | None:
        """Max - min of the repeats' wall times; None with fewer than two repeats (the spread
        is unknown, so no speed difference can be told from noise)."""
        walls = self.repeat_walls
        return max(walls) - min(walls) if len(walls) > 1 else None


@dataclass(frozen=True, order=True)
class Series:
    """One configuration across object sizes: what a line in a chart or a fit is drawn from."""

    key: CaseKey
    name: str = dataclasses.field(compare=False)
    """What tells it apart from the other series whatever the concurrency (the colour's name)."""
    label: str = dataclasses.field(compare=False)
    """``name`` with the concurrency, e.g. ``chunked x4 chunk_size=64MiB``."""

    @property
    def strategy(self) -> str:
        return self.key.strategy

    @property
    def concurrency(self) -> int:
        return self.key.concurrency


def _case_order(case: CaseRuns) -> tuple[int, int, str, str]:
    return (case.key.size_bytes, case.key.concurrency, case.key.strategy, case.label)


class Analysis:
    """Results grouped once into cases and series, with names that tell them apart."""

    def __init__(
        self,
        results: Sequence[RunResult],
        context: Iterable[CaseKey] = (),
        keys: ResultKeys | None = None,
    ) -> None:
        """``context``: keys of other results (a baseline) the names must also tell apart;
        ``keys``: the cache of keys to share with whoever made the context."""
        with paused_gc():  # every object made here is acyclic: nothing to collect
            self.results = list(results)
            key_of = keys or ResultKeys()  # one key object per case, not one per line held
            keyed = [(key_of(r), r) for r in self.results]
            grouped: dict[CaseKey, list[RunResult]] = {}
            for key, result in keyed:
                grouped.setdefault(key, []).append(result)
            names = labels([*grouped, *context])
            self.cases = sorted(
                (
                    CaseRuns(
                        key, names[key], tuple(sorted(runs, key=lambda r: (r.repeat, r.worker)))
                    )
                    for key, runs in grouped.items()
                ),
                key=_case_order,
            )
            self.names = names
            """Every case key's name, the context's included."""
            series_of_case = {key: key.series for key in grouped}  # made once a case, not a line
            series_keys = set(series_of_case.values())
            series_labels = labels(series_keys, with_size=False)
            colour_keys = {key: dataclasses.replace(key, concurrency=0) for key in series_keys}
            series_names = labels(colour_keys.values(), with_size=False)
            self._series = {
                key: Series(key, series_names[colour_keys[key]], series_labels[key])
                for key in series_keys
            }
            self._series_of_run = {id(r): self._series[series_of_case[key]] for key, r in keyed}

    def series_of(self, result: RunResult) -> Series:
        """The series a run (one of ``results``) belongs to."""
        return self._series_of_run[id(result)]

    def group_by_series(
        self, runs: Iterable[RunResult] | None = None
    ) -> dict[Series, list[RunResult]]:
        """Runs (default: all) per series, series in order."""
        groups: dict[Series, list[RunResult]] = {}
        for run in self.results if runs is None else runs:
            groups.setdefault(self.series_of(run), []).append(run)
        return dict(sorted(groups.items()))

    @property
    def series_names(self) -> list[str]:
        return sorted({series.name for series in self._series.values()})


def group_by_size(runs: Iterable[RunResult]) -> dict[int, list[RunResult]]:
    """Runs per object size, smallest first."""
    groups: dict[int, list[RunResult]] = {}
    for result in sorted(runs, key=lambda r: r.size_bytes):
        groups.setdefault(result.size_bytes, []).append(result)
    return groups
