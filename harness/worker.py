"""The measured worker process: ``python -m harness.worker JOB.json REPORT.json``.

It looks like a real worker: it imports boto3, the strategy and what the processing step needs,
builds its client, records its baseline RSS, fetches, then verifies and processes what it got. It
imports nothing of the harness but the records, the /proc readers and the strategy contract, so
the harness's own machinery never shows up in its memory. It always writes a report, even when
the strategy raises; the parent measures everything else from outside.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import sys
import time
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from harness.procfs import current_rss, own_peak_rss
from harness.records import WorkerJob, WorkerReport, job_from_json
from strategies.base import FetchContext, Fetched
from strategies.processing import modules_needed, run_process_step

HASH_BLOCK = 1024 * 1024


class VerificationError(Exception):
    """The strategy returned bytes that are not the object's."""


def main(argv: list[str]) -> int:
    report = WorkerReport(interpreter_rss_bytes=current_rss())
    job_path, report_path = Path(argv[1]), Path(argv[2])
    try:
        run(job_from_json(job_path.read_text()), report)
    except BaseException as exc:
        lines = str(exc).strip().splitlines()
        report.error = lines[0] if lines else type(exc).__name__
        report.error_type = type(exc).__name__
    report.final_hwm_bytes = own_peak_rss()
    partial = report_path.with_suffix(".part")
    partial.write_text(json.dumps(asdict(report)))
    os.replace(partial, report_path)
    return 0 if report.error is None else 1


def run(job: WorkerJob, report: WorkerReport) -> None:
    import boto3

    strategy = _load_strategy(job.case.strategy)()
    for module in modules_needed(job.case.process):
        importlib.import_module(module)
    session = boto3.session.Session(region_name=job.region)

    def make_client(service: str) -> Any:
        return session.client(service, endpoint_url=job.endpoint_url)  # type: ignore[call-overload]

    ctx = FetchContext(
        s3=make_client("s3"),
        bucket=job.object.bucket,
        key=job.object.key,
        tmp_dir=Path(job.tmp_dir),
        params=dict(job.case.params),
        make_client=make_client,
    )
    gc.collect()
    report.baseline_rss_bytes = current_rss()

    started = time.perf_counter()
    fetched = strategy.fetch(ctx)
    report.fetch_wall_s = time.perf_counter() - started
    report.details = dict(fetched.details)

    try:
        _verify_and_process(job, fetched, report)
    finally:
        if fetched.path is not None:
            Path(fetched.path).unlink(missing_ok=True)


def _verify_and_process(job: WorkerJob, fetched: Fetched, report: WorkerReport) -> None:
    if fetched.data is not None:
        report.bytes_fetched = len(fetched.data)
        report.sha256 = hashlib.sha256(fetched.data).hexdigest()
    elif fetched.path is not None:
        path = Path(fetched.path)
        if Path(job.tmp_dir).resolve() not in path.resolve().parents:
            raise VerificationError(f"strategy returned {path}, outside its temp dir")
        report.bytes_fetched, report.sha256 = _hash_file(path)
    if report.sha256 is not None:
        _verify(job, report)

    started = time.perf_counter()
    found = run_process_step(job.case.process, fetched, Path(job.tmp_dir), job.case.process_params)
    report.process_wall_s = time.perf_counter() - started
    report.details.update(found)
    if "pages" in found:
        report.pages = int(found["pages"])
        if job.object.pages is not None and report.pages != job.object.pages:
            raise VerificationError(
                f"PyMuPDF counted {report.pages} pages, the manifest says {job.object.pages}"
            )


def _load_strategy(name: str) -> Any:
    for entry_point in entry_points(group="memharness.strategies"):
        if entry_point.name == name:
            return entry_point.load()
    raise LookupError(f"strategy {name!r} is not registered")


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK)
    view = memoryview(buffer)
    total = 0
    with open(path, "rb", buffering=0) as source:
        while count := source.readinto(buffer):
            digest.update(view[:count])
            total += count
    return total, digest.hexdigest()


def _verify(job: WorkerJob, report: WorkerReport) -> None:
    expected_size, expected_sha = job.object.size_bytes, job.object.sha256
    if report.bytes_fetched != expected_size:
        report.verified = False
        raise VerificationError(
            f"fetched {report.bytes_fetched} bytes, the object has {expected_size}"
        )
    if expected_sha is None:
        return
    report.verified = report.sha256 == expected_sha
    if not report.verified:
        raise VerificationError(
            f"sha256 of the fetched bytes is {report.sha256}, the object's is {expected_sha}"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
