"""Runs cases one after another, each in a fresh worker process, and records every result.

Per run the runner creates a private scratch directory (job file, worker log, and the temp dir
the strategy writes into), measures the worker from outside, counts what the strategy left in its
temp dir, appends the result to results.jsonl, and removes the scratch directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.backends import Backend
from harness.measure import Measurement, run_and_measure
from harness.records import Case, ObjectRef, RunResult, WorkerJob, WorkerReport, from_dict
from harness.results import ResultsWriter

DEFAULT_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class PlannedRun:
    """A case and the object it fetches."""

    case: Case
    object: ObjectRef


def run_all(
    planned: Iterable[PlannedRun],
    backend: Backend,
    writer: ResultsWriter,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every planned case in order; each result is on disk before the next case starts."""
    results = []
    for run in planned:
        result = run_case(run, backend, writer, timeout_s)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def run_case(
    run: PlannedRun, backend: Backend, writer: ResultsWriter, timeout_s: float
) -> RunResult:
    """Measure one worker run of ``run`` and append its result."""
    run_id = uuid.uuid4().hex[:12]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    scratch = Path(tempfile.mkdtemp(prefix=f"memharness-{run_id}-"))
    try:
        tmp_dir = scratch / "tmp"
        tmp_dir.mkdir(mode=0o700)
        job = WorkerJob(
            case=run.case,
            object=run.object,
            endpoint_url=backend.endpoint_url,
            region=backend.region,
            tmp_dir=str(tmp_dir),
        )
        job_path, report_path = scratch / "job.json", scratch / "report.json"
        job_path.write_text(json.dumps(asdict(job)))
        measurement = run_and_measure(
            [sys.executable, "-m", "harness.worker", str(job_path), str(report_path)],
            env={**os.environ, **backend.worker_env, "PYTHONUNBUFFERED": "1"},
            log_path=scratch / "worker.log",
            timeout_s=timeout_s,
        )
        report = _read_report(report_path)
        files_left, bytes_left = _count_files(tmp_dir)
        result = _result(run_id, started_at, run, backend, measurement, report, timeout_s, scratch)
        result.temp_files_left, result.temp_bytes_left = files_left, bytes_left
        if measurement.timeline:
            result.timeline_file = writer.write_timeline(run_id, measurement.timeline)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    writer.append(result)
    return result


def _result(
    run_id: str,
    started_at: str,
    run: PlannedRun,
    backend: Backend,
    measurement: Measurement,
    report: WorkerReport | None,
    timeout_s: float,
    scratch: Path,
) -> RunResult:
    status, error, error_type = _outcome(measurement, report, timeout_s, scratch)
    peaks = [p for p in (measurement.polled_hwm_bytes, report and report.final_hwm_bytes) if p]
    wall_s = report.fetch_wall_s if report else None
    throughput = None
    if status == "ok" and wall_s and report and report.bytes_fetched:
        throughput = round(report.bytes_fetched / 1e6 / wall_s, 2)
    return RunResult(
        run_id=run_id,
        case_id=run.case.case_id,
        strategy=run.case.strategy,
        object_name=run.case.object_name,
        object_key=run.object.key,
        size_bytes=run.object.size_bytes,
        process=run.case.process,
        params=run.case.params,
        process_params=run.case.process_params,
        status=status,
        error=error,
        error_type=error_type,
        peak_rss_bytes=max(peaks) if peaks else None,
        peak_rss_source="VmHWM" if peaks else None,
        ru_maxrss_bytes=measurement.ru_maxrss_bytes,
        baseline_rss_bytes=(report.baseline_rss_bytes or None) if report else None,
        interpreter_rss_bytes=(report.interpreter_rss_bytes or None) if report else None,
        sampled_peak_rss_bytes=measurement.sampled_peak_bytes,
        samples=len(measurement.timeline),
        wall_s=round(wall_s, 4) if wall_s is not None else None,
        total_wall_s=round(measurement.wall_s, 4),
        throughput_mb_s=throughput,
        bytes_fetched=report.bytes_fetched if report else 0,
        verified=report.verified if report else None,
        pages=report.pages if report else None,
        temp_files_left=0,
        temp_bytes_left=0,
        exit_code=measurement.exit_code,
        signal=measurement.signal,
        backend=backend.name,
        started_at=started_at,
        timeline_file=None,
        details=report.details if report else {},
    )


def _outcome(
    measurement: Measurement, report: WorkerReport | None, timeout_s: float, scratch: Path
) -> tuple[str, str | None, str | None]:
    if measurement.timed_out:
        return "timeout", f"worker still running after --timeout {timeout_s:g} s", "Timeout"
    if report is not None:
        if report.error is None and measurement.exit_code == 0:
            return "ok", None, None
        if report.error is not None:
            return "error", report.error, report.error_type
    if measurement.signal is not None:
        name = signal.Signals(measurement.signal).name
        return "error", f"worker killed by {name}", name
    last_line = _last_line(scratch / "worker.log")
    return (
        "error",
        f"worker exited with status {measurement.exit_code} and no report: {last_line}",
        "WorkerCrash",
    )


def _read_report(path: Path) -> WorkerReport | None:
    try:
        return from_dict(WorkerReport, json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _count_files(folder: Path) -> tuple[int, int]:
    count = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            count += 1
            total += path.stat().st_size
    return count, total


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1].strip()[:300] if lines else "no output"
