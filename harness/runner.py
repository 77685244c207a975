"""Runs cases one after another, each as a group of fresh worker processes, recording every run.

Per worker the runner creates a scratch directory for the harness's own files (job, report,
worker log) under ``.work/`` in the results directory, a private (0700) temp dir for the strategy
in the system temp dir (``$TMPDIR``: where a real worker would write, so a full disk there is the
strategy's problem, not the report's), and, under a memory cap, a cgroup. It measures the group
from outside, counts what each strategy left in its temp dir, writes each worker's result to
results.jsonl when the group ends, and removes the scratch and temp directories and cgroups,
after failures too. Temp dirs carry the harness's PID, so those of a harness that was killed
are swept by the next run (:func:`sweep_stale_temp_dirs`). A case with a fault gets a fault
proxy of its own (``memharness_s3.faults.inject``) as its workers' S3 endpoint for the time of
the run; its log is kept under ``faults/`` in the results directory.

With a :class:`~memharness_s3.backends.health.BackendGuard`, the backend is checked before each
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
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from memharness_s3 import caps, registry
from memharness_s3.analysis.identity import key_of_case
from memharness_s3.backends import Backend
from memharness_s3.backends.health import RERUNS, BackendGuard, Problem, Watch
from memharness_s3.faults.inject import FaultRoute, inject
from memharness_s3.faults.spec import parse_fault
from memharness_s3.measure import (
    DEFAULT_SAMPLE_INTERVAL_S,
    GroupMeasurement,
    Measurement,
    Tick,
    WorkerSpawn,
    run_group,
)
from memharness_s3.paths import TEMP_PREFIX, count_files
from memharness_s3.procfs import meminfo_bytes
from memharness_s3.records import (
    INFRA,
    Case,
    ObjectRef,
    RunResult,
    WorkerJob,
    WorkerReport,
    report_from_json,
)
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.run_limit import describe_limit, run_limit_s
from memharness_s3.sizes import format_size

WORK_DIR = ".work"


def settle_page_cache() -> dict[str, int]:
    """Flush dirty pages (``sync``) and return ``Dirty`` and ``Writeback`` as they then are.

    Pages an earlier run (or the fixture upload) left dirty are written back while the next run
    writes its own, which throttles it: without this, runs measured one after another are not
    measured from the same state.
    """
    os.sync()
    return meminfo_bytes("Dirty", "Writeback")


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


@dataclass(frozen=True)
class PlannedRun:
    """A case, which repetition of it this is, and the object each of its fetches gets."""

    case: Case
    objects: list[ObjectRef]
    repeat: int = 0
    wire_mb_s: float | None = None
    """The object's raw GET throughput from this endpoint (``wire``), carried onto its results."""


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
) -> list[RunResult]:
    """Run every planned case in order; each case's results are on disk before the next starts.

    ``timeout_s``: the user's limit for every run (None: each run's own, ``run_limit``).
    ``guard``: checks the backend between runs and watches it during each; a run it broke is
    labelled ``infra`` and re-run once after the backend is recovered (RunFailed when it cannot
    be: an endpoint the harness did not launch, a server that does not come back).
    """
    results = []
    for run in planned:
        tick = (lambda t, run=run: on_tick(run, t)) if on_tick is not None else None
        for attempt in range(1 + RERUNS):
            if guard is not None:
                guard.before_run()
            lines, outage = _run_watched(
                run, backend, writer, timeout_s, tick, sample_interval_s, guard, attempt
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
    return _run_watched(run, backend, writer, timeout_s, on_tick, sample_interval_s)[0]


def _run_watched(
    run: PlannedRun,
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float | None,
    on_tick: Callable[[Tick], None] | None,
    sample_interval_s: float,
    guard: BackendGuard | None = None,
    attempt: int = 0,
) -> tuple[list[RunResult], Problem | None]:
    """One run, its lines labelled ``infra`` (and the outage returned) when the backend broke it."""
    if guard is None:
        return _measure_run(run, backend, writer, timeout_s, on_tick, sample_interval_s)
    with guard.watch() as watch:
        return _measure_run(
            run,
            backend,
            writer,
            timeout_s,
            on_tick,
            sample_interval_s,
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
    watch: Watch | None = None,
    label: Callable[[list[RunResult]], Problem | None] | None = None,
) -> tuple[list[RunResult], Problem | None]:
    """Measure the run; ``label`` (before anything is written) marks the lines an outage broke."""
    case = run.case
    limit_s = run_limit_s(case, run.wire_mb_s, timeout_s)
    group_id = uuid.uuid4().hex[:12]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    cgroup_parent = caps.find_cgroup_parent() if case.memory_limit_bytes else None
    enforcement = None
    if case.memory_limit_bytes:
        enforcement = cgroup_parent[0].name if cgroup_parent else caps.WATCHDOG
    per_worker = [[obj] for obj in run.objects] if case.pool == "processes" else [run.objects]
    workers: list[_Worker] = []
    try:
        for objects in per_worker:
            run_id = uuid.uuid4().hex[:12]
            scratch = writer.out_dir / WORK_DIR / run_id
            scratch.mkdir(parents=True, mode=0o700)
            tmp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{run_id}-"))
            worker = _Worker(run_id, scratch, tmp_dir, objects, None)
            workers.append(worker)
            if case.memray:
                worker.memray_file = writer.artifact_path("memray", f"{run_id}.bin")
            if cgroup_parent is not None and case.memory_limit_bytes:
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
            watchdog = case.memory_limit_bytes if enforcement == caps.WATCHDOG else None
            start_state = settle_page_cache()
            abort = watch.failed.is_set if watch is not None else None
            group = run_group(spawns, limit_s, watchdog, on_tick, sample_interval_s, abort)
            injected = route.injections() if route is not None else None
        results = []
        for index, worker in enumerate(workers):
            result = _result(run, index, worker, group, backend, enforcement, limit_s, timeout_s)
            result.group_id, result.started_at = group_id, started_at
            result.fault_injected = injected
            result.wire_mb_s = run.wire_mb_s
            result.dirty_bytes_at_start = start_state.get("Dirty")
            result.writeback_bytes_at_start = start_state.get("Writeback")
            timeline = group.workers[index].timeline
            if timeline:
                result.timeline_file = writer.write_timeline(result.run_id, timeline)
            result.heap_peak_bytes, result.memray_file, result.flamegraph_file = _memray_outputs(
                worker, writer.out_dir
            )
            results.append(result)
    finally:
        for worker in workers:
            if worker.cgroup is not None:
                worker.cgroup.remove()
            shutil.rmtree(worker.scratch, ignore_errors=True)
            shutil.rmtree(worker.tmp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            (writer.out_dir / WORK_DIR).rmdir()
    outage = label(results) if label is not None else None
    for result in results:
        writer.append(result)
    return results, outage


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
            "memharness_s3.worker",
            str(job_path),
            str(worker.scratch / "report.json"),
        ],
        env={**os.environ, **backend.worker_env, "PYTHONUNBUFFERED": "1"},
        log_path=worker.scratch / "worker.log",
        tmp_dir=worker.tmp_dir,
        cgroup=worker.cgroup,
    )


def _result(
    run: PlannedRun,
    index: int,
    worker: _Worker,
    group: GroupMeasurement,
    backend: Backend,
    enforcement: str | None,
    limit_s: float,
    timeout_s: float | None,
) -> RunResult:
    case = run.case
    measurement = group.workers[index]
    report = _read_report(worker.scratch / "report.json")
    limit = describe_limit(limit_s, timeout_s)
    status, error, error_type = _outcome(case, measurement, report, worker, limit)
    fetches = report.fetches if report else []
    hwms = [p for p in (measurement.polled_hwm_bytes, report and report.final_hwm_bytes) if p]
    peak, source = peak_and_source(max(hwms, default=None), measurement.sampled_peak_bytes)
    walls = [f.fetch_wall_s for f in fetches if f.fetch_wall_s is not None]
    wall_s = max(walls) if walls and len(walls) == len(fetches) else None
    fetched = sum(f.bytes_fetched for f in fetches)
    throughput = round(fetched / 1e6 / wall_s, 2) if status == "ok" and wall_s and fetched else None
    verdicts = [f.verified for f in fetches]
    verified = False if False in verdicts else (True if verdicts and all(verdicts) else None)
    files_left, bytes_left = count_files(worker.tmp_dir)
    return RunResult.for_case(
        case,
        run.repeat,
        index,
        case_id=key_of_case(case, run.objects[0].key, backend.name).case_id,
        run_id=worker.run_id,
        group_id="",
        object_key=worker.objects[0].key,
        status=status,
        backend=backend.name,
        started_at="",
        error=error,
        error_type=error_type,
        peak_rss_bytes=peak,
        peak_rss_source=source,
        ru_maxrss_bytes=measurement.ru_maxrss_bytes,
        baseline_rss_bytes=(report.baseline_rss_bytes or None) if report else None,
        interpreter_rss_bytes=(report.interpreter_rss_bytes or None) if report else None,
        sampled_peak_rss_bytes=measurement.sampled_peak_bytes,
        samples=len(measurement.timeline),
        wall_s=round(wall_s, 4) if wall_s is not None else None,
        total_wall_s=round(measurement.wall_s, 4),
        throughput_mb_s=throughput,
        bytes_fetched=fetched,
        verified=verified,
        pages=next((f.pages for f in fetches if f.pages is not None), None),
        temp_files_left=files_left,
        temp_bytes_left=bytes_left,
        temp_peak_bytes=max(
            [measurement.temp_peak_bytes] + [f.temp_bytes_after_fetch for f in fetches]
        ),
        cap_enforcement=enforcement,
        oom_at_rss_bytes=measurement.last_rss_bytes if status == "oom" else None,
        cgroup_peak_bytes=worker.cgroup.peak_bytes() if worker.cgroup else None,
        aggregate_peak_rss_bytes=group.aggregate_peak_bytes,
        min_available_bytes=group.min_available_bytes,
        exit_code=measurement.exit_code,
        signal=measurement.signal,
        retries=report.retries if report else 0,
        details=(
            fetches[0].details
            if len(fetches) == 1
            else {"fetches": [{**f.details, "retries": f.retries} for f in fetches]}
        ),
    )


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


def _outcome(
    case: Case,
    measurement: Measurement,
    report: WorkerReport | None,
    worker: _Worker,
    time_limit: str,
) -> tuple[str, str | None, str | None]:
    limit = format_size(case.memory_limit_bytes or 0)
    if measurement.watchdog_killed:
        return "oom", f"RSS passed the {limit} cap; killed by the watchdog", "MemoryCap"
    if worker.cgroup is not None and measurement.signal and worker.cgroup.oom_kills():
        return "oom", f"killed by the kernel at the {limit} cgroup limit", "MemoryCap"
    if measurement.timed_out:
        return "timeout", f"worker still running after {time_limit}", "Timeout"
    if measurement.aborted:
        return INFRA, "killed by the harness: the backend stopped answering", "BackendUnresponsive"
    if report is not None:
        failed = [(i, f) for i, f in enumerate(report.fetches) if f.error]
        if report.error is not None:
            return "error", report.error, report.error_type
        if failed:
            index, fetch = failed[0]
            prefix = f"fetch {index}: " if len(report.fetches) > 1 else ""
            return "error", f"{prefix}{fetch.error}", fetch.error_type
        if measurement.exit_code == 0:
            return "ok", None, None
    if measurement.signal is not None:
        name = signal.Signals(measurement.signal).name
        why = " (not by the harness: the kernel's OOM killer or another process)"
        return "error", f"worker killed by {name}{why if name == 'SIGKILL' else ''}", name
    last_line = _last_line(worker.scratch / "worker.log")
    return (
        "error",
        f"worker exited with status {measurement.exit_code} and no report: {last_line}",
        "WorkerCrash",
    )


def _memray_outputs(worker: _Worker, out_dir: Path) -> tuple[int | None, str | None, str | None]:
    """Heap peak, capture and flamegraph paths (relative to the results dir) of a memray run."""
    if worker.memray_file is None or not worker.memray_file.exists():
        return None, None, None
    from memharness_s3.memray_capture import heap_peak_bytes, write_flamegraph

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
