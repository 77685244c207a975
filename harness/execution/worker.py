"""The measured worker process: ``python -m memharness_s3.execution.worker JOB.json REPORT.json``.

It looks like a real worker: it imports boto3, the strategy and what the processing step needs,
builds its client, records its baseline RSS, fetches, then verifies and processes what it got.
With several objects in its job it fetches them in that many threads at once, as a threads pool
would. It imports nothing of the harness but the records, the /proc readers and the strategy
contract, so the harness's own machinery never shows up in its memory. It always writes a report,
even when a strategy raises; the parent measures everything else from outside.
"""

from __future__ import annotations

from memharness_s3.execution.procfs import current_rss, own_peak_rss

INTERPRETER_RSS_BYTES = current_rss()
"""RSS before anything but ``os`` and ``resource`` (procfs's) is imported: the bare interpreter
that ``baseline - interpreter`` (the import cost) is measured from."""

import gc
import hashlib
import importlib
import json
import os
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memharness_s3.model.checksums import file_crc32
from memharness_s3.model.records import (
    FetchReport,
    ObjectRef,
    WorkerJob,
    WorkerReport,
    job_from_json,
)
from memharness_s3.strategies.base import FetchContext, Fetched
from memharness_s3.strategies.processing import modules_needed, run_process_step

HASH_BLOCK = 1024 * 1024


class VerificationError(Exception):
    """The strategy returned bytes that are not the object's."""


class RetryCounter:
    """botocore's retries on the clients it is attached to, in total and per object key.

    ``request-created`` fires once per attempt of a call, after botocore has numbered the attempt
    in the call's context, so every attempt after the first is a retry, whatever caused it (an
    error status, throttling, a dropped connection) and whether or not the call then succeeded.
    ``ResponseMetadata.RetryAttempts`` would miss the calls that failed: measured against the
    fault proxy, a GET that ran out of attempts on 503s raised with no metadata to read it from,
    while this counter saw its 2 retries. The object key is taken from the call's parameters.
    """

    _KEY = "memharness_key"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.by_key: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._remember_key)
        client.meta.events.register("request-created", self._count)

    def _remember_key(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[self._KEY] = params.get("Key")

    def _count(self, request: Any, **_: Any) -> None:
        context = getattr(request, "context", None) or {}
        if context.get("retries", {}).get("attempt", 1) <= 1:
            return
        with self._lock:
            self.total += 1
            if context.get(self._KEY):
                self.by_key[context[self._KEY]] += 1


def main(argv: list[str]) -> int:
    report = WorkerReport(interpreter_rss_bytes=INTERPRETER_RSS_BYTES)
    job_path, report_path = Path(argv[1]), Path(argv[2])
    try:
        run(job_from_json(job_path.read_text()), report, lambda: _write(report, report_path))
    except BaseException as exc:  # every failure becomes part of the report
        report.error, report.error_type = describe(exc)
    report.final_hwm_bytes = own_peak_rss()
    _write(report, report_path)
    failed = report.error is not None or any(f.error for f in report.fetches)
    return 1 if failed else 0


def _write(report: WorkerReport, path: Path) -> None:
    """Replace the report file atomically, so the parent never reads half of one."""
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(asdict(report)))
    os.replace(partial, path)


@dataclass
class Prepared:
    """A worker set up for its fetches: the strategy class, one context per object, a counter."""

    strategy_cls: Any
    contexts: list[FetchContext]
    retries: RetryCounter


def run(job: WorkerJob, report: WorkerReport, checkpoint: Callable[[], None]) -> None:
    """Set up like a real worker, record the baseline (saved at once: a worker killed at its
    memory cap still has it), then run the fetches."""
    prepared = prepare(job)
    gc.collect()
    report.baseline_rss_bytes = current_rss()
    checkpoint()
    fetch_all(prepared, job, report)


def prepare(job: WorkerJob) -> Prepared:
    """Import boto3, the strategy and the processing step's modules; build the client and a
    context per object (each its own temp dir when there are several)."""
    import boto3

    strategy_cls = load_strategy(job.strategy_target)
    for module in modules_needed(job.case.process):
        importlib.import_module(module)
    session = boto3.session.Session(region_name=job.region)
    retries = RetryCounter()

    def make_client(service: str) -> Any:
        endpoint = job.service_endpoints.get(service, job.endpoint_url)
        client = session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
        retries.attach(client)
        return client

    s3 = make_client("s3")
    contexts = []
    for index, obj in enumerate(job.objects):
        tmp_dir = Path(job.tmp_dir) / f"fetch-{index}" if len(job.objects) > 1 else None
        if tmp_dir is not None:
            tmp_dir.mkdir(mode=0o700)
        contexts.append(
            FetchContext(
                s3=s3,
                bucket=obj.bucket,
                key=obj.key,
                tmp_dir=tmp_dir or Path(job.tmp_dir),
                params=dict(job.case.params),
                make_client=make_client,
            )
        )
    return Prepared(strategy_cls, contexts, retries)


def fetch_all(prepared: Prepared, job: WorkerJob, report: WorkerReport) -> None:
    """The measured part: every fetch (in threads when there are several), then its checks."""
    strategy_cls, contexts, retries = prepared.strategy_cls, prepared.contexts, prepared.retries
    tracker = _memray_tracker(job.memray_file)
    try:
        with tracker:
            if len(contexts) == 1:
                report.fetches = [_fetch_one(strategy_cls(), contexts[0], job, job.objects[0])]
            else:
                with ThreadPoolExecutor(max_workers=len(contexts)) as pool:
                    futures = [
                        pool.submit(_fetch_one, strategy_cls(), ctx, job, obj)
                        for ctx, obj in zip(contexts, job.objects, strict=True)
                    ]
                    report.fetches = [future.result() for future in futures]
    finally:
        report.retries = retries.total
        for fetch, obj in zip(report.fetches, job.objects, strict=False):
            fetch.retries = retries.by_key[obj.key]


def _memray_tracker(path: str | None) -> AbstractContextManager[Any]:
    """memray's tracker with native traces (so MuPDF's C allocations count), or nothing."""
    if path is None:
        return nullcontext()
    import memray

    return memray.Tracker(path, native_traces=True)


def _fetch_one(strategy: Any, ctx: FetchContext, job: WorkerJob, obj: ObjectRef) -> FetchReport:
    fetch = FetchReport()
    fetched: Fetched | None = None
    try:
        started = time.perf_counter()
        fetched = strategy.fetch(ctx)
        fetch.fetch_wall_s = time.perf_counter() - started
        fetch.temp_bytes_after_fetch = _dir_bytes(ctx.tmp_dir)
        fetch.details = dict(fetched.details)
        _verify_and_process(job, obj, ctx.tmp_dir, fetched, fetch)
    except Exception as exc:  # a failed fetch is a result, not a crash
        fetch.error, fetch.error_type = describe(exc)
    finally:
        if fetched is not None and fetched.path is not None:
            Path(fetched.path).unlink(missing_ok=True)
    return fetch


def _verify_and_process(
    job: WorkerJob, obj: ObjectRef, tmp_dir: Path, fetched: Fetched, fetch: FetchReport
) -> None:
    if fetched.data is not None:
        fetch.bytes_fetched = len(fetched.data)
        if obj.crc32 is not None:
            fetch.crc32 = zlib.crc32(fetched.data)
        else:
            fetch.sha256 = hashlib.sha256(fetched.data).hexdigest()
        _verify(obj, fetch)
    elif fetched.path is not None:
        path = Path(fetched.path)
        if tmp_dir.resolve() not in path.resolve().parents:
            raise VerificationError(f"strategy returned {path}, outside its temp dir")
        if obj.crc32 is not None:
            fetch.bytes_fetched, fetch.crc32 = file_crc32(path)
        else:
            fetch.bytes_fetched, fetch.sha256 = _sha256_file(path)
        _verify(obj, fetch)

    started = time.perf_counter()
    found = run_process_step(job.case.process, fetched, tmp_dir, job.case.process_params)
    if job.case.process != "none":
        fetch.process_wall_s = time.perf_counter() - started
    fetch.details.update(found)
    if "pages" in found:
        fetch.pages = int(found["pages"])
        if obj.pages is not None and fetch.pages != obj.pages:
            raise VerificationError(
                f"PyMuPDF counted {fetch.pages} pages, the manifest says {obj.pages}"
            )


def _dir_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def describe(exc: BaseException) -> tuple[str, str]:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__), type(exc).__name__


def load_strategy(target: str) -> Any:
    """The class at ``module:Class``, as the parent resolved it from the strategy's entry point."""
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module)
    for name in attribute.split("."):
        found = getattr(found, name)
    return found


def _sha256_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK)
    view = memoryview(buffer)
    total = 0
    with open(path, "rb", buffering=0) as source:
        while count := source.readinto(buffer):
            digest.update(view[:count])
            total += count
    return total, digest.hexdigest()


def _verify(obj: ObjectRef, fetch: FetchReport) -> None:
    if fetch.bytes_fetched != obj.size_bytes:
        fetch.verified = False
        raise VerificationError(
            f"fetched {fetch.bytes_fetched} bytes, the object has {obj.size_bytes}"
        )
    if obj.crc32 is not None:
        fetch.verified = fetch.crc32 == obj.crc32
        if not fetch.verified:
            raise VerificationError(
                f"CRC-32 of the fetched bytes is {fetch.crc32}, the object's is {obj.crc32}"
            )
    elif obj.sha256 is not None:
        fetch.verified = fetch.sha256 == obj.sha256
        if not fetch.verified:
            raise VerificationError(
                f"sha256 of the fetched bytes is {fetch.sha256}, the object's is {obj.sha256}"
            )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
