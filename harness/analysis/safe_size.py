"""The search behind ``memharness limits``: the largest object size a strategy survives.

For one strategy at one concurrency under one budget, :class:`SizeSearch` picks object sizes to
try and reads each try's outcome (a :class:`Probe`: N runs of the case at that size), until it
knows the largest size that had no kill in N tries and the smallest that had one, within
:class:`Resolution`. It starts with the smallest size (which must fit: otherwise everything is
killed) and the largest (if that fits, nothing is), then bisects between the largest size that
fit and the smallest that was killed, on a geometric scale (sizes span 10 MB to 2 GB, and a kill
threshold is relative to the object). A size is never tried twice, and every size tried lies
strictly between the bounds known so far, so the answer is never an inverted interval.

A probe decides only when it is clear: any run with a killed worker (``oom``) is a kill; every
run ending ok is a fit; anything else (a run that errored, timed out, or that the harness's own
setup broke, ``infra``) is neither, and the search stops there saying why. An ``infra`` run is
never counted as a kill. This module is pure: it never runs anything (``safe_size_probe`` does).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import INFRA, RunResult

FITS = "fits"
KILLED = "killed"
UNSETTLED = "unsettled"
INTERRUPTED = "interrupted"
"""``SearchOutcome.stopped`` when the user stopped the search (Ctrl-C)."""


@dataclass(frozen=True)
class Probe:
    """The outcome of N runs (tries) of the case at one object size."""

    size_bytes: int
    tries: int
    """Runs asked for."""
    ok_runs: int
    """Runs whose every worker ended ok."""
    killed_runs: int
    """Runs in which the kernel (or the cap's watchdog) killed at least one worker (``oom``)."""
    tasks: int
    """Worker lines counted (every worker of every run, ``infra`` ones left out)."""
    killed_tasks: int
    infra_runs: int = 0
    """Runs the harness's setup broke, never re-run to an outcome: neither a kill nor a fit."""
    failed_runs: int = 0
    """Runs with no kill in which a worker errored or timed out."""
    peak_bytes: int | None = None
    """The highest peak of the tries against what the limit caps: the node's charged peak
    (node scope) or a worker's peak RSS (worker scope); None when not measured."""

    @property
    def verdict(self) -> str:
        """:data:`KILLED` on any kill, :data:`FITS` when every try ended ok, else
        :data:`UNSETTLED`."""
        if self.killed_runs:
            return KILLED
        if self.ok_runs == self.tries:
            return FITS
        return UNSETTLED

    def describe(self) -> str:
        """``53 MB: 2 of 12 workers killed in 3 tries`` and the like."""
        where = f"{format_size(self.size_bytes)}: "
        if self.killed_runs:
            return (
                f"{where}{self.killed_tasks} of {self.tasks} workers killed in "
                f"{self.killed_runs} of {tries_text(self.tries)}"
            )
        if self.verdict == FITS:
            return f"{where}no kill in {tries_text(self.tries)} ({self.tasks} workers)"
        parts = [f"{self.ok_runs} ok"]
        if self.failed_runs:
            parts.append(f"{self.failed_runs} errored or timed out")
        if self.infra_runs:
            parts.append(f"{self.infra_runs} broken by the harness's setup (infra)")
        missing = self.tries - self.ok_runs - self.failed_runs - self.infra_runs
        if missing > 0:
            parts.append(f"{missing} with no result")
        return f"{where}of {tries_text(self.tries)} {', '.join(parts)}"


def tries_text(tries: int) -> str:
    """``1 try``, ``3 tries``."""
    return "1 try" if tries == 1 else f"{tries} tries"


def probe_of(size_bytes: int, tries: int, lines: Sequence[RunResult]) -> Probe:
    """The probe the result lines of N tries at one size make (lines of one case, ``infra``
    lines already settled by their re-runs, ``analysis.reruns.settled``)."""
    by_try: dict[int, list[RunResult]] = {}
    for line in lines:
        by_try.setdefault(line.repeat, []).append(line)
    ok = killed = infra = failed = tasks = killed_tasks = 0
    peaks = [p for p in map(_capped_peak, lines) if p is not None]
    for runs in by_try.values():
        counted = [r for r in runs if r.status != INFRA]
        tasks += len(counted)
        killed_here = sum(1 for r in counted if r.status == "oom")
        killed_tasks += killed_here
        if killed_here:
            killed += 1
        elif len(counted) < len(runs):
            infra += 1
        elif all(r.status == "ok" for r in counted):
            ok += 1
        else:
            failed += 1
    peak = max(peaks) if peaks else None
    return Probe(size_bytes, tries, ok, killed, tasks, killed_tasks, infra, failed, peak)


def _capped_peak(line: RunResult) -> int | None:
    """The line's peak of what its memory limit caps (``Probe.peak_bytes``)."""
    if line.status == INFRA:
        return None
    if line.memory_scope == "node":
        return line.node_charged_peak_bytes
    return line.peak_rss_bytes


@dataclass(frozen=True)
class Resolution:
    """When the search stops: the interval between the largest size that fit and the smallest
    that was killed is at most ``relative`` of the former, or ``absolute_bytes``; sizes tried are
    whole multiples of ``step_bytes`` (so the fixture cache is reused across searches)."""

    relative: float = 0.10
    absolute_bytes: int = 2 * 10**6
    step_bytes: int = 10**6

    def close_enough(self, ok_bytes: int, killed_bytes: int) -> bool:
        gap = killed_bytes - ok_bytes
        return gap <= max(self.relative * ok_bytes, self.absolute_bytes)

    def between(self, ok_bytes: int, killed_bytes: int) -> int | None:
        """The next size to try between the two, or None when no step fits between them."""
        middle = math.sqrt(ok_bytes * killed_bytes)
        size = round(middle / self.step_bytes) * self.step_bytes
        if size <= ok_bytes:
            size = (ok_bytes // self.step_bytes + 1) * self.step_bytes
        if size >= killed_bytes:
            size = (killed_bytes - 1) // self.step_bytes * self.step_bytes
        return size if ok_bytes < size < killed_bytes else None


@dataclass(frozen=True)
class SearchOutcome:
    """What the search found: the bounds and every probe, in the order tried."""

    largest_ok_bytes: int | None
    """The largest size tried with no kill in N tries; None when the smallest was killed (or
    nothing settled)."""
    smallest_killed_bytes: int | None
    """The smallest size tried with a kill; None when nothing was killed up to the largest
    size tried."""
    probes: tuple[Probe, ...]
    stopped: str | None = None
    """Why the search ended before its resolution (an unsettled probe, an interrupt), else
    None."""

    def probe_at(self, size_bytes: int | None) -> Probe | None:
        return next((p for p in self.probes if p.size_bytes == size_bytes), None)


class SizeSearch:
    """A bisection of object sizes in ``[min_bytes, max_bytes]``: ask :meth:`next_size`, run the
    probe, :meth:`record` it, until :meth:`next_size` is None; then :meth:`outcome`."""

    def __init__(
        self, min_bytes: int, max_bytes: int, resolution: Resolution | None = None
    ) -> None:
        if not 0 < min_bytes < max_bytes:
            raise ValueError(f"need 0 < min_bytes < max_bytes, got {min_bytes}, {max_bytes}")
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self.resolution = resolution or Resolution()
        self.probes: list[Probe] = []

    def record(self, probe: Probe) -> None:
        self.probes.append(probe)

    def next_size(self) -> int | None:
        """The size to try next, or None when the search is over."""
        if not self.probes:
            return self.min_bytes
        if self._stop_reason() is not None:
            return None
        ok, killed = self._bounds()
        if ok is None:  # the smallest size was killed: nothing below it was asked for
            return None
        if killed is None:
            return self.max_bytes if ok < self.max_bytes else None
        if self.resolution.close_enough(ok, killed):
            return None
        return self.resolution.between(ok, killed)

    def outcome(self, stopped: str | None = None) -> SearchOutcome:
        """The bounds so far; ``stopped`` says why it ended early (e.g. :data:`INTERRUPTED`)."""
        ok, killed = self._bounds()
        return SearchOutcome(ok, killed, tuple(self.probes), stopped or self._stop_reason())

    def _bounds(self) -> tuple[int | None, int | None]:
        fits = [p.size_bytes for p in self.probes if p.verdict == FITS]
        kills = [p.size_bytes for p in self.probes if p.verdict == KILLED]
        return (max(fits) if fits else None), (min(kills) if kills else None)

    def _stop_reason(self) -> str | None:
        unsettled = next((p for p in self.probes if p.verdict == UNSETTLED), None)
        if unsettled is None:
            return None
        return f"{UNSETTLED}: {unsettled.describe()}"


def search_sizes(
    probe: Callable[[int], Probe],
    min_bytes: int,
    max_bytes: int,
    resolution: Resolution | None = None,
) -> SearchOutcome:
    """Run a whole :class:`SizeSearch` with ``probe`` (size in bytes -> its probe)."""
    search = SizeSearch(min_bytes, max_bytes, resolution)
    while (size := search.next_size()) is not None:
        search.record(probe(size))
    return search.outcome()
