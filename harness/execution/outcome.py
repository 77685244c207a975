"""From what a worker reported and what its executor saw of it, to one result line: defined once.

Both executors end a run the same way. Each worker (a local worker process, a Celery task) leaves
a report about itself (:class:`~memharness_s3.model.records.WorkerReport`; none when it died), and
its
executor has measured it from outside (:class:`Outside`: its RSS over time, its exit, its wall
time ...). :func:`build_result` turns the two, with what the run's workers share
(:class:`RunCommon`), into a :class:`~memharness_s3.model.records.RunResult`, built whole. What
differs
between the executors is only how each decides a worker's :class:`Outcome` before its report
counts (a watchdog, a cgroup, a time limit, a lost Celery child) and which outside numbers it
has; what a report itself says about the outcome is :func:`reported_failure`, for both.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memharness_s3.execution.node_memory import NodeFigures
from memharness_s3.model.records import RunResult, WorkerReport
from memharness_s3.plan.runs import PlannedRun


@dataclass(frozen=True)
class Outcome:
    """How a worker's run ended: a status (``records.STATUSES``) and, unless ok, why."""

    status: str
    error: str | None = None
    error_type: str | None = None


OK = Outcome("ok")


def reported_failure(report: WorkerReport) -> Outcome | None:
    """The failure a worker reported about itself: its own error, else its first failed fetch
    (named by its index when it fetched several); None when it reported none."""
    if report.error is not None:
        return Outcome("error", report.error, report.error_type)
    failed = [(index, fetch) for index, fetch in enumerate(report.fetches) if fetch.error]
    if not failed:
        return None
    index, fetch = failed[0]
    prefix = f"fetch {index}: " if len(report.fetches) > 1 else ""
    return Outcome("error", f"{prefix}{fetch.error}", fetch.error_type)


def new_id() -> str:
    """A 12-hex-digit id for one run of a case (its group) or one of its workers."""
    return uuid.uuid4().hex[:12]


def now() -> str:
    """The time a run starts, as its lines record it (UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunCommon:
    """What every line of one run of a case records alike."""

    run: PlannedRun
    backend: str
    group_id: str
    started_at: str
    page_cache: Mapping[str, int]
    """``Dirty`` and ``Writeback`` after the ``sync`` before the run (``settle_page_cache``)."""
    fault_injected: int | None = None
    aggregate_peak_rss_bytes: int | None = None
    min_available_bytes: int | None = None
    host_reported_bytes: int | None = None
    """Memory handed back to the host during the run (``host_memory.HostReporting``)."""


@dataclass(frozen=True)
class Outside:
    """One worker as its executor saw it; None (or empty) where that executor cannot see it."""

    run_id: str
    object_key: str
    """The key of the worker's first object."""
    total_wall_s: float
    cap_enforcement: str | None
    timeline: Sequence[tuple[float, int]] = ()
    """RSS samples taken from outside the worker (a Celery node samples its child)."""
    timeline_file: str | None = None
    polled_hwm_bytes: int | None = None
    last_rss_bytes: int | None = None
    ru_maxrss_bytes: int | None = None
    temp_peak_bytes: int = 0
    temp_left: tuple[int, int] | None = None
    """Files and bytes left in the strategy's temp dir as the executor counted them (None: as
    the report counted them)."""
    cgroup_peak_bytes: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    heap_peak_bytes: int | None = None
    memray_file: str | None = None
    flamegraph_file: str | None = None
    node: str | None = None
    child_pid: int | None = None
    """The child that ran the task, for a task that ended without a report."""
    deliveries: int | None = None
    node_figures: NodeFigures | None = None
    """The memory of the node the worker ran on (``node_memory``)."""
    killed_pid: int | None = None
    """The process that died under the cap, when the worker's run is an ``oom``."""


def build_result(
    common: RunCommon,
    worker: int,
    outcome: Outcome,
    report: WorkerReport | None,
    outside: Outside,
) -> RunResult:
    """The result line of worker ``worker`` of a run, whole."""
    run = common.run
    fetches = report.fetches if report is not None else []
    reported_hwm = report.final_hwm_bytes if report is not None else None
    # VmHWM polled from outside survives a kill; the worker's own final reading is later than
    # the last poll. Either may be missing (no report after a kill, no poll on a short run).
    hwms = [hwm for hwm in (outside.polled_hwm_bytes, reported_hwm) if hwm]
    sampled = max((rss for _, rss in outside.timeline), default=None)
    peak, source = peak_and_source(max(hwms, default=None), sampled)
    walls = [f.fetch_wall_s for f in fetches if f.fetch_wall_s is not None]
    # threads fetch at once: the run took as long as its slowest; a missing one means no figure
    wall_s = max(walls) if walls and len(walls) == len(fetches) else None
    processing = [f.process_wall_s for f in fetches if f.process_wall_s is not None]
    fetched = sum(f.bytes_fetched for f in fetches)
    ok = outcome.status == "ok"
    # a failed run's bytes over its time would read as a (misleading) speed of the strategy
    throughput = round(fetched / 1e6 / wall_s, 2) if ok and wall_s and fetched else None
    verdicts = [f.verified for f in fetches]
    # one wrong object makes the run wrong; None when nothing was downloaded to check
    verified = False if False in verdicts else (True if verdicts and all(verdicts) else None)
    node = outside.node_figures or NodeFigures(None, None, None, None)
    # the executor's own count of the temp dir wins: the worker cannot report after a kill
    files_left, bytes_left = outside.temp_left or (
        (report.temp_files_left, report.temp_bytes_left) if report is not None else (0, 0)
    )
    return RunResult.for_case(
        run.case,
        run.repeat,
        worker,
        case_id=run.case_id,
        run_id=outside.run_id,
        group_id=common.group_id,
        object_key=outside.object_key,
        status=outcome.status,
        backend=common.backend,
        started_at=common.started_at,
        error=outcome.error,
        error_type=outcome.error_type,
        peak_rss_bytes=peak,
        peak_rss_source=source,
        ru_maxrss_bytes=outside.ru_maxrss_bytes,
        baseline_rss_bytes=(report.baseline_rss_bytes or None) if report else None,
        interpreter_rss_bytes=(report.interpreter_rss_bytes or None) if report else None,
        sampled_peak_rss_bytes=sampled,
        samples=len(outside.timeline),
        wall_s=round(wall_s, 4) if wall_s is not None else None,
        process_wall_s=round(max(processing), 4) if processing else None,
        total_wall_s=round(outside.total_wall_s, 4),
        throughput_mb_s=throughput,
        wire_mb_s=run.wire_mb_s,
        dirty_bytes_at_start=common.page_cache.get("Dirty"),
        writeback_bytes_at_start=common.page_cache.get("Writeback"),
        host_reported_bytes=common.host_reported_bytes,
        bytes_fetched=fetched,
        verified=verified,
        pages=next((f.pages for f in fetches if f.pages is not None), None),
        temp_files_left=files_left,
        temp_bytes_left=bytes_left,
        temp_peak_bytes=max(
            [outside.temp_peak_bytes] + [f.temp_bytes_after_fetch for f in fetches]
        ),
        cap_enforcement=outside.cap_enforcement,
        # the last sample before the kill: how far the worker got, not its peak
        oom_at_rss_bytes=outside.last_rss_bytes if outcome.status == "oom" else None,
        cgroup_peak_bytes=outside.cgroup_peak_bytes,
        aggregate_peak_rss_bytes=common.aggregate_peak_rss_bytes,
        min_available_bytes=common.min_available_bytes,
        heap_peak_bytes=outside.heap_peak_bytes,
        memray_file=outside.memray_file,
        flamegraph_file=outside.flamegraph_file,
        exit_code=outside.exit_code,
        signal=outside.signal,
        retries=report.retries if report is not None else 0,
        fault_injected=common.fault_injected,
        timeline_file=outside.timeline_file,
        node=outside.node,
        # a Celery child killed mid-task reports nothing; the sampler saw which child died
        child_pid=report.child_pid if report is not None else outside.child_pid,
        task_index=report.task_index if report is not None else None,
        retained_rss_bytes=report.retained_rss_bytes if report is not None else None,
        recycled=report.recycled if report is not None else None,
        deliveries=outside.deliveries,
        node_charged_peak_bytes=node.charged_peak_bytes,
        node_charged_source=node.charged_source,
        node_rss_sum_peak_bytes=node.rss_sum_peak_bytes,
        node_idle_bytes=node.idle_bytes,
        killed_pid=outside.killed_pid if outcome.status == "oom" else None,
        details=_details(report),
    )


def _details(report: WorkerReport | None) -> dict[str, Any]:
    """What the strategy said about its fetch (``requests``, ``parts`` ...); with several
    fetches, each one's with its retries; nothing without a report."""
    if report is None:
        return {}
    fetches = report.fetches
    if len(fetches) == 1:
        return fetches[0].details
    return {"fetches": [{**fetch.details, "retries": fetch.retries} for fetch in fetches]}


def peak_and_source(hwm: int | None, sampled: int | None) -> tuple[int | None, str | None]:
    """The largest RSS the kernel reported, and where it was read.

    ``VmHWM`` is the kernel's high-water mark, but the kernel folds its RSS counters in lazily
    (per CPU and per thread), so a ``statm`` sample taken near the top can read a little above
    the mark read at another moment (seen: 0.2 MB at 120 MB). The peak is the larger of the two,
    and ``peak_rss_source`` says which it was.
    """
    if hwm is None and sampled is None:
        return None, None
    if sampled is not None and (hwm is None or sampled > hwm):
        return sampled, "sample"
    return hwm, "VmHWM"
