"""What Celery's ``worker_max_memory_per_child`` would and would not have done, from the runs.

billiard checks the setting after a task ends: when the child's ``ru_maxrss`` (its peak, here
the task's own, reset at the task's start) passed the limit, the child is replaced before its
next task. So it can only give back what a child *keeps* after a task (``retained_rss_bytes``
above a fresh child's idle RSS); it never stops a spike inside a task, and a task the kernel
kills mid-way is killed whatever the setting. Each node-scoped case is read that way: its
in-task peak, the RSS its children kept after the task, and what a limit would change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memharness_s3.analysis.budget_scope import NODE, node_charged_peak
from memharness_s3.analysis.cases import KILLED, Analysis, CaseRuns
from memharness_s3.config.sizes import format_mb
from memharness_s3.model.records import RunResult

KEPT_WORTH_SAYING = 2**20
"""Kept memory above a fresh child's below this (a MiB) is noise, not something to recycle."""


@dataclass(frozen=True)
class Recycling:
    """One node-scoped case against ``worker_max_memory_per_child``."""

    label: str
    killed: int
    measured: int
    in_task_peak_bytes: int | None
    """The largest peak a child of the case reached inside a task that ended ok."""
    killed_peak_bytes: int | None
    """The largest peak recorded for a task the kernel killed (its last sample)."""
    killed_node_bytes: int | None
    """The node's charged peak during the runs that had a kill: what the kernel killed at."""
    retained_bytes: int | None
    """The largest RSS a child kept after a task of the case (its data dropped)."""
    fresh_idle_bytes: int | None
    """A fresh child's baseline RSS (the smallest of a child's first task in the run), the
    floor recycling returns to."""
    limit_bytes: int | None = None
    """The run's own ``worker_max_memory_per_child``, when it set one."""
    recycled: int = 0
    """Tasks after which Celery replaced the child (their peak passed the run's limit)."""
    kept_unrecycled_bytes: int | None = None
    """The most a child kept after a task that did not pass the run's limit."""

    @property
    def kept_above_fresh_bytes(self) -> int | None:
        """What a recycle after the task would give back to the node."""
        if self.retained_bytes is None or self.fresh_idle_bytes is None:
            return None
        return max(0, self.retained_bytes - self.fresh_idle_bytes)

    @property
    def effect(self) -> str:
        """What a limit would and would not have done for this case, in words."""
        said = []
        if self.killed:
            peaks = []
            if self.killed_peak_bytes:
                peaks.append(f"last recorded peak {format_mb(self.killed_peak_bytes)} MB")
            if self.killed_node_bytes:
                peaks.append(f"the node peaking at {format_mb(self.killed_node_bytes)} MB")
            peak = f" ({', '.join(peaks)})" if peaks else ""
            said.append(
                f"{self.killed} of {self.measured} tasks killed mid-task{peak}: not prevented "
                "by any limit (checked only after a task ends)"
            )
        kept = self.kept_above_fresh_bytes
        if kept is not None and self.in_task_peak_bytes is not None:
            said.append(
                f"a limit under {format_mb(self.in_task_peak_bytes)} MB recycles the child "
                f"after the task, giving back {format_mb(kept)} MB it kept "
                f"({format_mb(self.retained_bytes)} MB retained against a fresh child's "
                f"{format_mb(self.fresh_idle_bytes)} MB) before the next task; the task's own "
                "peak is the same"
            )
        if not said:
            said.append("no RSS kept after a task was recorded")
        return "; ".join(said)

    @property
    def worth_saying(self) -> bool:
        """Whether a limit would change anything here: a kill, or memory kept after a task."""
        return bool(self.killed or (self.kept_above_fresh_bytes or 0) >= KEPT_WORTH_SAYING)


def recycling(analysis: Analysis) -> list[Recycling]:
    """Every node-scoped case that ran on Celery (it has per-task retained RSS), in order."""
    cases = [case for case in analysis.cases if _on_celery_node(case)]
    fresh = _fresh_idle([run for case in cases for run in case.measured_runs])
    return [_of(case, fresh) for case in cases]


def _on_celery_node(case: CaseRuns) -> bool:
    return case.scope == NODE and case.first.executor == "celery"


def _of(case: CaseRuns, fresh: int | None) -> Recycling:
    measured = case.measured_runs
    peaks = [r.peak_rss_bytes for r in measured if r.status == "ok" and r.peak_rss_bytes]
    killed = [r.peak_rss_bytes for r in measured if r.status == KILLED and r.peak_rss_bytes]
    retained = [r.retained_rss_bytes for r in measured if r.retained_rss_bytes]
    kept = [r.retained_rss_bytes for r in measured if r.retained_rss_bytes and not r.recycled]
    limit = case.first.executor_params.get("max_memory_per_child")
    return Recycling(
        label=case.label,
        killed=sum(1 for r in measured if r.status == KILLED),
        measured=len(measured),
        in_task_peak_bytes=max(peaks, default=None),
        killed_peak_bytes=max(killed, default=None),
        killed_node_bytes=max(
            (n for r in measured if r.status == KILLED and (n := node_charged_peak(r))),
            default=None,
        ),
        retained_bytes=max(retained, default=None),
        fresh_idle_bytes=fresh,
        limit_bytes=limit if isinstance(limit, int) else None,
        recycled=sum(1 for r in measured if r.recycled),
        kept_unrecycled_bytes=max(kept, default=None),
    )


def _fresh_idle(runs: Sequence[RunResult]) -> int | None:
    """The smallest baseline of a child's first task in these runs (any case: a case run after
    another starts in children that already ran tasks): what a recycled child starts from."""
    fresh = [r.baseline_rss_bytes for r in runs if r.task_index == 0 and r.baseline_rss_bytes]
    return min(fresh, default=None)


def summary(rows: Sequence[Recycling]) -> list[str]:
    """The section's sentences: what the setting would not and would have prevented here."""
    if not rows:
        return []
    killed = [row for row in rows if row.killed]
    said = [
        "Celery checks worker_max_memory_per_child after a task ends (the child's peak against "
        "the limit, then a new child before the next task), so it never stops a spike inside "
        "a task."
    ]
    if killed:
        tasks = sum(row.killed for row in killed)
        peaks = [row.killed_peak_bytes for row in killed if row.killed_peak_bytes]
        nodes = [row.killed_node_bytes for row in killed if row.killed_node_bytes]
        peak = f", last recorded peaks up to {format_mb(max(peaks))} MB" if peaks else ""
        peak += f", the node peaking at up to {format_mb(max(nodes))} MB" if nodes else ""
        cases = f"{len(killed)} case{'s' if len(killed) > 1 else ''}"
        said.append(
            f"Not prevented: the {tasks} task{'s' if tasks > 1 else ''} the kernel killed here "
            f"({cases}{peak}); no value of the setting would have saved "
            f"{'them' if tasks > 1 else 'it'}."
        )
    kept = [row for row in rows if row.kept_above_fresh_bytes]
    if kept:
        most = max(kept, key=lambda row: row.kept_above_fresh_bytes or 0)
        said.append(
            f"Prevented: memory a child keeps for its next task. Children kept up to "
            f"{format_mb(most.kept_above_fresh_bytes)} MB above a fresh child after a task "
            f"({most.label}); a limit under the task's peak recycles such a child and returns "
            "that to the node before the next task."
        )
    else:
        said.append(
            "Nothing to prevent here: no child kept more after a task than a fresh child holds."
        )
    limited = [row for row in rows if row.limit_bytes]
    if limited:
        limit = max(row.limit_bytes or 0 for row in limited)
        tasks = sum(row.measured for row in limited)
        recycled = sum(row.recycled for row in limited)
        text = (
            f"This run set it to {format_mb(limit)} MB: {recycled} of {tasks} tasks passed it "
            "and had their child replaced after them"
        )
        kept_under = [row for row in limited if row.kept_unrecycled_bytes]
        if kept_under:
            most = max(kept_under, key=lambda row: row.kept_unrecycled_bytes or 0)
            text += (
                f"; children whose task stayed under it kept up to "
                f"{format_mb(most.kept_unrecycled_bytes)} MB for their next task ({most.label})"
            )
        said.append(text + ".")
    return said
