"""What a node (the workers of a case, a Celery node's main process and children) costs the
machine, read from outside while it runs: the figure a shared cap is spent on.

A cgroup charges each page once, whichever of its processes maps it, so its resident figure
(``caps.resident_bytes``: page cache left out) is what the kernel holds against the node's limit.
Without a cgroup the nearest figure is the sum of the processes' PSS (``/proc/PID/smaps_rollup``:
a page shared by N processes counts 1/N in each), which reading costs a walk of each process's
page tables (about 2 ms per GB mapped), so it is read less often: on every tenth tick, and
between those only on a tick where it could be news (:meth:`NodeMeter.sample`). The plain sum
of the processes' RSS counts a page a forked child shares with its parent once per process:
recorded beside it, never instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from memharness_s3.execution.caps import CgroupFlavour, resident_bytes

PSS_SUM = "pss-sum"


def pss_bytes(pid: int) -> int | None:
    """The proportional set size of ``pid`` in bytes, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """The PIDs of ``pid``'s children (forked by any of its threads); [] once it has gone."""
    children: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return children
    for task in tasks:
        try:
            children += [int(item) for item in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return children


@dataclass(frozen=True)
class NodeFigures:
    """A node's memory over one run, as every line of the run records it."""

    charged_peak_bytes: int | None
    charged_source: str | None
    rss_sum_peak_bytes: int | None
    idle_bytes: int | None


class NodeMeter:
    """Peaks of a node's charged memory and of its processes' RSS sum, sample by sample.

    ``cgroups``: the cgroups (path and flavour) holding the node's processes, each charged in
    full (one for a node, one per worker for per-worker caps); none: the sum of PSS.
    ``follow_peaks``: the charged peak is the figure the run is judged by (a node-scoped run),
    so a sum of PSS is also read whenever the RSS sum reaches a new high: a peak held for less
    than the slow interval (read-all's whole object, for a moment) is not missed.
    """

    def __init__(
        self, cgroups: Sequence[tuple[Path, CgroupFlavour]] = (), follow_peaks: bool = False
    ) -> None:
        self.cgroups = list(cgroups)
        self.follow_peaks = follow_peaks
        self.source = self.cgroups[0][1].resident_source if self.cgroups else PSS_SUM
        self.idle_bytes: int | None = None
        self.charged_peak: int | None = None
        self.rss_sum_peak: int | None = None

    @property
    def cheap(self) -> bool:
        """Whether :meth:`charged` costs one small file read per cgroup (not a page walk)."""
        return bool(self.cgroups)

    def charged(self, pids: Iterable[int]) -> int | None:
        """What the node charges now; None when nothing could be read."""
        if self.cgroups:
            readings = [resident_bytes(path, flavour) for path, flavour in self.cgroups]
        else:
            readings = [pss_bytes(pid) for pid in pids]
        known = [reading for reading in readings if reading is not None]
        return sum(known) if known else None

    def start(self, pids: Iterable[int]) -> None:
        """Begin a run: its idle floor is what the node charges now; the peaks start over."""
        self.idle_bytes = self.charged(pids)
        self.charged_peak = self.rss_sum_peak = None

    def _sample_charged(self, pids: Iterable[int]) -> int | None:
        """What the node charges now, counted into its peak."""
        charged = self.charged(pids)
        if charged is not None:
            self.charged_peak = max(self.charged_peak or 0, charged)
        return charged

    def sample(
        self, rss_sum: int, pids: Iterable[int], slow: bool, limit: int | None = None
    ) -> int | None:
        """Count one tick: the RSS sum always, and the charged figure (returned; None when not
        read) from a cgroup every tick, from PSS on ``slow`` ticks and on ticks where it could
        be news: over ``limit`` (a watchdog's, which must see every tick it could pass) or,
        with ``follow_peaks``, a new high.

        A process's PSS never exceeds its RSS, so while the RSS sum is at or below the charged
        peak already seen, PSS can neither set a new peak nor pass a limit that peak is under:
        such ticks skip the page walk.
        """
        previous_high = self.rss_sum_peak
        if rss_sum:
            self.rss_sum_peak = max(previous_high or 0, rss_sum)
        if self.cheap or slow:
            return self._sample_charged(pids)
        if self.charged_peak is not None and rss_sum <= self.charged_peak:
            return None
        over_limit = limit is not None and rss_sum > limit
        new_high = self.follow_peaks and rss_sum > (previous_high or 0)
        return self._sample_charged(pids) if over_limit or new_high else None

    def figures(self) -> NodeFigures:
        return NodeFigures(
            self.charged_peak,
            self.source if self.charged_peak is not None else None,
            self.rss_sum_peak,
            self.idle_bytes,
        )
