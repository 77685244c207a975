"""Runs cases one after another, each as a group of fresh worker processes, recording every run.

Per worker the runner creates a scratch directory for the harness's own files (job, report,
worker log) under ``.work/`` in the results directory, a private (0700) temp dir for the strategy
in the system temp dir (``$TMPDIR``: where a real worker would write, so a full disk there is the
strategy's problem, not the report's), and, under a memory cap, a cgroup. It measures the group
from outside, counts what each strategy left in its temp dir, writes each worker's result to
results.jsonl when the group ends, and removes the scratch and temp directories and cgroups,
after failures too. Temp dirs carry the harness's PID, so those of a harness that was killed
are swept by the next run (:func:`sweep_stale_temp_dirs`). A case with a fault gets a fault
proxy of its own (``memharness_s3.s3.faults.inject``) as its workers' S3 endpoint for the time of
the run; its log is kept under ``faults/`` in the results directory.

With a :class:`~memharness_s3.s3.backends.health.BackendGuard`, the backend is checked before each
run and watched (from a thread of this process, never a worker) while the run's workers run; a
run it broke is killed at once, labelled ``infra`` and, after the guard recovered the backend,
run once more. Each run's wall-clock limit is ``--timeout`` or one scaled to its object's size
and wire speed (``run_limit``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from memharness_s3.config import registry
from memharness_s3.config.sizes import format_budget
from memharness_s3.execution import caps, outcome
from memharness_s3.execution.host_memory import HostReporting
from memharness_s3.execution.local.measure import (
    DEFAULT_SAMPLE_INTERVAL_S,
    Measurement,
    WorkerSpawn,
    run_group,
)
from memharness_s3.execution.node_memory import NodeMeter
from memharness_s3.execution.outcome import Outcome
from memharness_s3.execution.procfs import settle_dirty_pages
from memharness_s3.model.records import (
    INFRA,
    Case,
    ObjectRef,
    RunResult,
    WorkerJob,
    WorkerReport,
    report_from_json,
)
from memharness_s3.model.ticks import Tick
from memharness_s3.paths import TEMP_PREFIX, count_files
from memharness_s3.plan.run_limit import describe_limit, run_limit_s
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.backends.health import RERUNS, BackendGuard, Problem, Watch
from memharness_s3.s3.faults.inject import FaultRoute, inject
from memharness_s3.s3.faults.spec import parse_fault

WORK_DIR = ".work"


def settle_page_cache() -> dict[str, int]:
    """Flush dirty pages (``sync``) when there are any to speak of, and return ``Dirty`` and
    ``Writeback`` as they then are (``procfs.settle_dirty_pages``).

    Pages an earlier run (or the fixture upload) left dirty are written back while the next run
    writes its own, which throttles it: without this, runs measured one after another are not
    measured from the same state. When nothing is dirty the ``sync`` is skipped: it would only
    wait for whatever else the machine is writing.
    """
    return settle_dirty_pages()


def sweep_stale_temp_dirs() -> int:
    """Remove strategy temp dirs left by harness processes that no longer exist (kill -9)."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*-*"):
        pid = path.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has: its parent, or an init
    that reaps late, has yet to collect it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class _Worker:
    """One worker's scratch space while its group runs."""

    run_id: str
    scratch: Path
    tmp_dir: Path
    objects: list[ObjectRef]
    memray_file: Path | None
    cgroup: caps.WorkerCgroup | None = None


def run_all(
    planned: Iterable[PlannedRun],
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    on_tick: Callable[[PlannedRun, Tick], None] | None = None,
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
    guard: BackendGuard | None = None,
    host: HostReporting | None = None,
) -> list[RunResult]:
    """Run every planned case in order; each case's results are on disk before the next starts.

    ``timeout_s``: the user's limit for every run (None: each run's own, ``run_limit``).
    ``guard``: checks the backend between runs and watches it during each; a run it broke is
    labelled ``infra`` and re-run once after the backend is recovered (RunFailed when it cannot
    be: an endpoint the harness did not launch, a server that does not come back).
    ``host``: free page reporting around each run (recorded, and waited for when it settles).
    """
    host = host or HostReporting(settle=False)
    results = []
    for run in planned:
        tick = (lambda t, run=run: on_tick(run, t)) if on_tick is not None else None
        for attempt in range(1 + RERUNS):
            if guard is not None:
                guard.before_run()
            lines, outage = _run_watched(
                run, backend, writer, timeout_s, tick, sample_interval_s, host, guard, attempt
            )
            for result in lines:
                results.append(result)
                if on_result is not None:
                    on_result(result)
            if guard is None or outage is None:
                break
            guard.recover(outage)
    return results


def run_case(
    run: PlannedRun,
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float | None = None,
    on_tick: Callable[[Tick], None] | None = None,
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
) -> list[RunResult]:
    """Measure one run of a case (``case.workers`` processes at once); append its results."""
    host = HostReporting(settle=False)
    return _run_watched(run, backend, writer, timeout_s, on_tick, sample_interval_s, host)[0]


def _run_watched(
    run: PlannedRun,
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float | None,
    on_tick: Callable[[Tick], None] | None,
    sample_interval_s: float,
    host: HostReporting,
    guard: BackendGuard | None = None,
    attempt: int = 0,
) -> tuple[list[RunResult], Problem | None]:
    """One run, its lines labelled ``infra`` (and the outage returned) when the backend broke it."""
    if guard is None:
        return _measure_run(run, backend, writer, timeout_s, on_tick, sample_interval_s, host)
    with guard.watch() as watch:
        return _measure_run(
            run,
            backend,
            writer,
            timeout_s,
            on_tick,
            sample_interval_s,
            host,
            watch,
            lambda results: guard.label(results, watch, attempt),
        )


def _measure_run(
    run: PlannedRun,
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float | None,
    on_tick: Callable[[Tick], None] | None,
    sample_interval_s: float,
    host: HostReporting,
    watch: Watch | None = None,
    label: Callable[[list[RunResult]], Problem | None] | None = None,
) -> tuple[list[RunResult], Problem | None]:
    """Measure the run; ``label`` (before anything is written) marks the lines an outage broke."""
    case = run.case
    limit_s = run_limit_s(case, run.wire_mb_s, timeout_s)
    group_id, started_at = outcome.new_id(), outcome.now()
    cgroup_parent = caps.find_cgroup_parent() if case.memory_limit_bytes else None
    enforcement = None
    if case.memory_limit_bytes:
        enforcement = cgroup_parent[0].name if cgroup_parent else caps.WATCHDOG
        if case.memory_scope == "node":
            enforcement += " per node"
    workers: list[_Worker] = []
    shared: caps.WorkerCgroup | None = None
    try:
        if cgroup_parent is not None and case.memory_limit_bytes and case.memory_scope == "node":
            shared = caps.WorkerCgroup(*cgroup_parent, case.memory_limit_bytes)
        for objects in run.per_worker:
            run_id = outcome.new_id()
            scratch = writer.out_dir / WORK_DIR / run_id
            scratch.mkdir(parents=True, mode=0o700)
            tmp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{run_id}-"))
            worker = _Worker(run_id, scratch, tmp_dir, objects, None)
            workers.append(worker)
            if case.memray:
                worker.memray_file = writer.artifact_path("memray", f"{run_id}.bin")
            if shared is not None:
                worker.cgroup = shared
            elif cgroup_parent is not None and case.memory_limit_bytes:
                flavour, parent = cgroup_parent
                worker.cgroup = caps.WorkerCgroup(flavour, parent, case.memory_limit_bytes)
        with ExitStack() as fault:
            route = None
            if case.fault is not None:
                logs = writer.artifact_path("faults", group_id)
                route = fault.enter_context(
                    inject(parse_fault(case.fault), backend, run.objects, logs)
                )
            spawns = [_spawn(worker, case, backend, route) for worker in workers]
            watched = case.memory_limit_bytes and cgroup_parent is None
            watchdog = case.memory_limit_bytes if watched else None
            node_scope = case.memory_scope == "node"
            node = NodeMeter([(cg.path, cg.flavour) for cg in _cgroups(workers)], node_scope)
            start_state = settle_page_cache()
            host.before_run()
            abort = watch.failed.is_set if watch is not None else None
            group = run_group(
                spawns,
                limit_s,
                None if node_scope else watchdog,
                on_tick,
                sample_interval_s,
                abort,
                node,
                watchdog if node_scope else None,
            )
            injected = route.injections() if route is not None else None
        common = outcome.RunCommon(
            run,
            backend.name,
            group_id,
            started_at,
            start_state,
            injected,
            group.aggregate_peak_bytes,
            group.min_available_bytes,
            host.reported_during_run(),
        )
        limit = describe_limit(limit_s, timeout_s)
        results = [
            _result(common, index, worker, group.workers[index], enforcement, limit, writer, node)
            for index, worker in enumerate(workers)
        ]
    finally:
        for cgroup in _cgroups(workers) or ([shared] if shared is not None else []):
            cgroup.remove()
        for worker in workers:
            shutil.rmtree(worker.scratch, ignore_errors=True)
            shutil.rmtree(worker.tmp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            (writer.out_dir / WORK_DIR).rmdir()
        host.released(run.fetched_bytes)
    outage = label(results) if label is not None else None
    for result in results:
        writer.append(result)
    return results, outage


def _cgroups(workers: list[_Worker]) -> list[caps.WorkerCgroup]:
    """The cgroups the workers are in, each once (a node-scoped case's workers share one)."""
    found: dict[Path, caps.WorkerCgroup] = {}
    for worker in workers:
        if worker.cgroup is not None:
            found.setdefault(worker.cgroup.path, worker.cgroup)
    return list(found.values())


def _spawn(worker: _Worker, case: Case, backend: Backend, route: FaultRoute | None) -> WorkerSpawn:
    endpoints = dict(backend.service_endpoints)
    if route is not None:
        endpoints["s3"] = route.s3_endpoint_url
    job = WorkerJob(
        case=case,
        strategy_target=registry.registered()[case.strategy].target,
        objects=worker.objects,
        endpoint_url=backend.endpoint_url,
        region=backend.region,
        tmp_dir=str(worker.tmp_dir),
        service_endpoints=endpoints,
        memray_file=str(worker.memray_file) if worker.memray_file else None,
    )
    job_path = worker.scratch / "job.json"
    job_path.write_text(json.dumps(asdict(job)))
    return WorkerSpawn(
        argv=[
            sys.executable,
            "-m",
            "memharness_s3.execution.worker",
            str(job_path),
            str(worker.scratch / "report.json"),
        ],
        env={**os.environ, **backend.worker_env, **case.env, "PYTHONUNBUFFERED": "1"},
        log_path=worker.scratch / "worker.log",
        tmp_dir=worker.tmp_dir,
        cgroup=worker.cgroup,
    )


def _result(
    common: outcome.RunCommon,
    index: int,
    worker: _Worker,
    measurement: Measurement,
    enforcement: str | None,
    time_limit: str,
    writer: ResultsWriter,
    node: NodeMeter,
) -> RunResult:
    report = _read_report(worker.scratch / "report.json")
    ended = _outcome(common.run.case, measurement, report, worker, time_limit)
    timeline = measurement.timeline
    heap_peak, memray_file, flamegraph = _memray_outputs(worker, writer.out_dir)
    outside = outcome.Outside(
        run_id=worker.run_id,
        object_key=worker.objects[0].key,
        total_wall_s=measurement.wall_s,
        cap_enforcement=enforcement,
        timeline=timeline,
        timeline_file=writer.write_timeline(worker.run_id, timeline) if timeline else None,
        polled_hwm_bytes=measurement.polled_hwm_bytes,
        last_rss_bytes=measurement.last_rss_bytes,
        ru_maxrss_bytes=measurement.ru_maxrss_bytes,
        temp_peak_bytes=measurement.temp_peak_bytes,
        temp_left=count_files(worker.tmp_dir),
        cgroup_peak_bytes=worker.cgroup.peak_bytes() if worker.cgroup else None,
        exit_code=measurement.exit_code,
        signal=measurement.signal,
        heap_peak_bytes=heap_peak,
        memray_file=memray_file,
        flamegraph_file=flamegraph,
        node_figures=node.figures(),
        killed_pid=measurement.pid,
    )
    return outcome.build_result(common, index, ended, report, outside)


def _outcome(
    case: Case,
    measurement: Measurement,
    report: WorkerReport | None,
    worker: _Worker,
    time_limit: str,
) -> Outcome:
    limit = format_budget(case.memory_limit_bytes or 0, case.memory_scope)
    if measurement.watchdog_killed:
        what = "the workers' PSS together" if case.memory_scope == "node" else "RSS"
        return Outcome(
            "oom", f"{what} passed the cap of {limit}; killed by the watchdog", "MemoryCap"
        )
    # In a shared cgroup a kill counts against every worker: one the harness killed itself
    # (its time limit, a broken backend) was not the kernel's.
    by_harness = case.memory_scope == "node" and (measurement.timed_out or measurement.aborted)
    if (
        worker.cgroup is not None
        and measurement.signal
        and not by_harness
        and worker.cgroup.oom_kills()
    ):
        return Outcome("oom", f"killed by the kernel at the cgroup limit of {limit}", "MemoryCap")
    if measurement.timed_out:
        return Outcome("timeout", f"worker still running after {time_limit}", "Timeout")
    if measurement.aborted:
        return Outcome(
            INFRA, "killed by the harness: the backend stopped answering", "BackendUnresponsive"
        )
    if report is not None:
        if (failure := outcome.reported_failure(report)) is not None:
            return failure
        if measurement.exit_code == 0:
            return outcome.OK
    if measurement.signal is not None:
        name = signal.Signals(measurement.signal).name
        why = " (not by the harness: the kernel's OOM killer or another process)"
        return Outcome("error", f"worker killed by {name}{why if name == 'SIGKILL' else ''}", name)
    last_line = _last_line(worker.scratch / "worker.log")
    return Outcome(
        "error",
        f"worker exited with status {measurement.exit_code} and no report: {last_line}",
        "WorkerCrash",
    )


def _memray_outputs(worker: _Worker, out_dir: Path) -> tuple[int | None, str | None, str | None]:
    """Heap peak, capture and flamegraph paths (relative to the results dir) of a memray run."""
    if worker.memray_file is None or not worker.memray_file.exists():
        return None, None, None
    from memharness_s3.execution.memray_capture import heap_peak_bytes, write_flamegraph

    flamegraph = write_flamegraph(worker.memray_file)
    return (
        heap_peak_bytes(worker.memray_file),
        str(worker.memray_file.relative_to(out_dir)),
        str(flamegraph.relative_to(out_dir)) if flamegraph else None,
    )


def _read_report(path: Path) -> WorkerReport | None:
    try:
        return report_from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1].strip()[:300] if lines else "no output"
