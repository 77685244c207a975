"""A measurement session: settings -> objects -> plan -> executor -> results directory.

The one path every entry point takes (``memharness run``, the pytest plugin, the tests): it
checks everything it can before creating anything, starts (or reaches) the backend, prepares
the objects (fixtures generated and uploaded, copies for concurrent fetches), plans the runs
(minus those a resumed directory already has), hands them to an executor and leaves a results
directory behind. An executor runs planned runs and appends their results as each ends; the
local one (:class:`LocalExecutor`) runs each case as fresh worker processes on this machine.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from memharness_s3.analysis.identity import key_of_case
from memharness_s3.config import registry
from memharness_s3.config.settings import RunSettings, check_bounds, to_meta
from memharness_s3.config.sizes import format_size
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.execution.caps import enforcement_available
from memharness_s3.execution.local.measure import Tick
from memharness_s3.execution.local.runner import run_all, sweep_stale_temp_dirs
from memharness_s3.fixtures.catalog import DEFAULT_SEED
from memharness_s3.model.records import Case, ObjectRef, RunResult
from memharness_s3.plan.runs import (
    PlannedRun,
    build_cases,
    completed_runs,
    object_copies,
    objects_for,
)
from memharness_s3.results.loader import load
from memharness_s3.results.writer import (
    RESULTS_FILE,
    ResultsWriter,
    prepare_out_dir,
    utc_stamp,
    write_meta,
)
from memharness_s3.s3 import wire
from memharness_s3.s3.backends import Backend, check_backend_options, open_backend
from memharness_s3.s3.backends.health import BackendGuard
from memharness_s3.s3.faults.inject import check_fault_backend
from memharness_s3.s3.faults.spec import parse_fault
from memharness_s3.s3.fixture_cache import cache_root, ensure_fixture
from memharness_s3.s3.objects import (
    describe_object,
    ensure_bucket,
    fixture_ref,
    make_client,
    prepare_fixture_objects,
    read_back,
    s3_errors,
)
from memharness_s3.s3.wire import median_mb_s
from memharness_s3.views.progress import Progress

DISK_MARGIN_BYTES = 256 * 10**6
IDLE_WORKER_BYTES = 52 * 10**6
"""RSS of an idle worker (Python, boto3, one client) measured on the development machine."""
MOTO_WHOLE_OBJECT_WARNING_BYTES = 500 * 10**6
RANGED_STRATEGIES = ("range", "transfer-manager")


@dataclass(frozen=True)
class Target:
    """Where the objects live and how to reach them: not part of what a case measures."""

    endpoint_url: str | None = None
    textract_endpoint_url: str | None = None
    region: str | None = None
    bucket: str = "memharness"
    keys: list[str] = field(default_factory=list)
    """Existing objects to fetch instead of generated fixtures."""
    seed: str = DEFAULT_SEED
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Execution:
    """What an executor runs planned runs with."""

    backend: Backend
    writer: ResultsWriter
    """Where each run's results are appended as it ends."""
    settings: RunSettings
    """The timeout, the sampling interval, the Celery nodes ..."""
    progress: Progress
    guard: BackendGuard | None = None
    """Checks the backend between runs and watches it during each; re-run once what it broke."""


class Executor(Protocol):
    """Runs planned runs (:meth:`execute`), appending each run's results as it ends."""

    name: str

    def check(self, settings: RunSettings) -> None:
        """Refuse (UsageError, RunFailed) what this executor cannot run, before anything starts."""
        ...

    def describe(self) -> dict[str, Any]:
        """What meta.json records of the executor."""
        ...

    def execute(self, planned: Sequence[PlannedRun], execution: Execution) -> None: ...


class LocalExecutor:
    """Each run of a case as fresh worker processes on this machine (``runner``)."""

    name = "local"

    def check(self, settings: RunSettings) -> None:
        if settings.executor != "local":
            raise UsageError(f"executor {settings.executor!r} given to the local executor")
        celery_only = [setting.option for setting in settings.celery_only()]
        if celery_only:
            raise UsageError(
                f"{', '.join(celery_only)} set Celery nodes: add --executor celery "
                "(a local run is a fresh worker process per run)"
            )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def execute(self, planned: Sequence[PlannedRun], execution: Execution) -> None:
        on_tick: Callable[[PlannedRun, Tick], None] = execution.progress.tick
        run_all(
            planned,
            execution.backend,
            execution.writer,
            execution.settings.timeout_s,
            execution.progress.result,
            on_tick,
            execution.settings.sample_interval_s,
            execution.guard,
        )


def executor_for(settings: RunSettings, broker_url: str | None = None) -> Executor:
    """The executor ``settings.executor`` names (``broker_url``: Celery's, else a private one)."""
    if settings.executor == "celery":
        from memharness_s3.execution.celery.executor import CeleryExecutor

        return CeleryExecutor(broker_url)
    return LocalExecutor()


class Session:
    """One run of a set of settings against a target, into one results directory."""

    def __init__(
        self,
        settings: RunSettings,
        target: Target,
        out_dir: Path,
        *,
        executor: Executor | None = None,
        resume: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.target = target
        self.out_dir = out_dir
        self.executor = executor or executor_for(settings)
        self.resume = resume
        self.progress = progress or Progress(0)
        self.backend_name = settings.backend or "moto"
        self.params = {
            name: registry.resolve_params(registry.load(name), settings.params.get(name, {}))
            for name in settings.strategies
        }

    def check(self) -> None:
        """Everything that can be checked before anything is created; UsageError otherwise."""
        check_backend_options(
            self.backend_name, self.target.endpoint_url, self.target.textract_endpoint_url
        )
        for fault in self.settings.faults:
            if fault is not None:
                check_fault_backend(parse_fault(fault), self.backend_name, self.target.endpoint_url)
        limit = self.settings.memory_limit_bytes
        if limit is not None and limit <= IDLE_WORKER_BYTES:
            raise UsageError(
                f"memory limit {format_size(limit)} is below a worker's baseline: an idle worker "
                f"with boto3 and a client needs about {format_size(IDLE_WORKER_BYTES)} before it "
                "fetches anything"
            )
        if not self.settings.sizes and not self.target.keys:
            raise UsageError("nothing to fetch: give sizes or --key")
        self.executor.check(self.settings)

    def run(self, backend: Backend | None = None) -> list[RunResult]:
        """Check, then measure every planned run; return every result in the directory.

        ``backend``: an already open backend to use (the pytest plugin shares one); by default
        the session opens its own and stops it at the end.
        """
        self.check()
        check_bounds(self.settings)
        self._check_room_for_copies()
        if self.resume:  # a damaged results file is refused before any server starts
            load(self.out_dir, allow_empty=True)
        self._warn_about_capacity()
        created = not self.out_dir.exists()
        try:
            prepare_out_dir(self.out_dir, self.resume)
            sweep_stale_temp_dirs()
            with self._backend(backend) as open_one:
                self._measure(open_one)
        except (UsageError, RunFailed) as exc:
            self._cleanup(created, str(exc))
            raise
        return load(self.out_dir, allow_empty=True).results

    def _check_room_for_copies(self) -> None:
        """UsageError when the objects and their copies for concurrent workers cannot fit on
        the temp disk, where a launched backend keeps them (s3rver's and MinIO's data
        directory; moto spills objects to temp files): checked before the first copy is made."""
        if self.backend_name == "endpoint" or self.target.keys:
            return
        copies = 1 if self.settings.shared_object else max(self.settings.concurrency)
        stored = sum(size for _, size in self.settings.sizes) * copies
        free = shutil.disk_usage(tempfile.gettempdir()).free
        if stored + DISK_MARGIN_BYTES > free:
            raise UsageError(
                f"the objects and their {copies} copies each for concurrent workers take "
                f"{format_size(stored)}, more than the {format_size(free)} free in "
                f"{tempfile.gettempdir()} where {self.backend_name} keeps them: lower "
                "--concurrency or --sizes, or use --shared-object"
            )

    def _cleanup(self, created: bool, message: str) -> None:
        """Remove the results directory this run made if it failed before measuring anything
        (an unreachable or non-S3 endpoint, missing credentials), unless the failure's one line
        points into it (a server's start-up log)."""
        if not created or (self.out_dir / RESULTS_FILE).exists():
            return
        with contextlib.suppress(OSError):
            if any(str(path) in message for path in self.out_dir.iterdir()):
                return
        shutil.rmtree(self.out_dir, ignore_errors=True)

    @contextlib.contextmanager
    def _backend(self, backend: Backend | None) -> Iterator[Backend]:
        if backend is not None:
            yield backend
            return
        with open_backend(
            self.backend_name,
            self.target.endpoint_url,
            self.target.region,
            self.out_dir,
            self.target.textract_endpoint_url,
        ) as started:
            yield started

    def _measure(self, backend: Backend) -> None:
        settings, progress = self.settings, self.progress
        writer = ResultsWriter(self.out_dir)
        done = (
            completed_runs(load(self.out_dir, allow_empty=True).results) if self.resume else set()
        )
        progress.say(f"backend: {backend.name} at {backend.display_url}; results: {self.out_dir}")
        copies = self._prepare_objects(backend)
        wire_samples = self._measure_wire(backend, copies)
        wire_mb_s = {key: median_mb_s(samples) for key, samples in wire_samples.items()}
        if not self.resume:
            meta = {**self._meta(), "wire_mb_s": wire_samples}
            write_meta(self.out_dir, backend.name, backend.endpoint_url, meta)
        sizes = [
            (name, refs[0].size_bytes if isinstance(refs, list) else 0)
            for name, refs in copies.items()
        ]
        cases = build_cases(
            sizes,
            settings.strategies,
            settings.concurrency,
            self.params,
            faults=settings.faults,
            process=settings.process,
            process_params={"split_part_bytes": settings.split_part_bytes},
            pool=settings.pool,
            shared_object=settings.shared_object,
            memory_limit_bytes=settings.memory_limit_bytes,
            memray=settings.memray,
            executor=settings.executor,
            executor_params=settings.executor_params(),
        )
        planned, unrunnable = plan(cases, copies, settings.repeat, done, backend, wire_mb_s)
        for result in unrunnable:
            writer.append(result)
        progress.total = len(planned)
        self._warn_about_moto(backend, planned)
        if done:
            progress.say(
                f"resuming: {len(done)} runs already in {writer.path}, {len(planned)} to go"
            )
        guard = BackendGuard(
            backend, self.target.bucket, lambda: self._restore_objects(backend), progress.say
        )
        self.executor.execute(planned, Execution(backend, writer, settings, progress, guard))

    def _restore_objects(self, backend: Backend) -> None:
        """Prepare the objects again on a restarted server that kept them in memory (moto):
        the same keys, so the planned runs' object references stay right."""
        self._prepare_objects(backend)

    def _measure_wire(
        self, backend: Backend, copies: dict[str, list[ObjectRef] | str]
    ) -> dict[str, list[float]]:
        """Each object's raw GET throughput (MB/s of each GET), or {} when it cannot be had."""
        keys = [refs[0].key for refs in copies.values() if isinstance(refs, list)]
        if not keys:
            return {}
        self.progress.say(f"wire: {wire.DEFAULT_REPEATS} plain GETs of each object")
        try:
            return wire.measure(
                backend.endpoint_url, backend.region, self.target.bucket, keys, backend.worker_env
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            self.progress.say(f"warning: wire throughput not measured: {exc}")
            return {}

    def _meta(self) -> dict[str, Any]:
        strategies = registry.registered()
        return {
            "settings": to_meta(self.settings),
            "keys": self.target.keys,
            "bucket": self.target.bucket,
            "executor": self.executor.describe(),
            "textract_endpoint_url": self.target.textract_endpoint_url,
            "strategies": {
                name: {
                    "target": strategies[name].target,
                    "distribution": strategies[name].distribution,
                    "version": strategies[name].version,
                    "libraries": registry.libraries(name),
                }
                for name in self.settings.strategies
            },
            "cap_enforcement": (
                enforcement_available() if self.settings.memory_limit_bytes else None
            ),
        }

    def _prepare_objects(self, backend: Backend) -> dict[str, list[ObjectRef] | str]:
        """For each object name, the objects its fetches get (copies for concurrency), or why
        it cannot be fetched."""
        settings, target = self.settings, self.target
        s3 = make_client(backend)
        copies_needed = 1 if settings.shared_object else max(settings.concurrency)
        prepared: dict[str, list[ObjectRef] | str] = {}
        if target.keys:
            with s3_errors(backend, f"bucket {target.bucket!r}"):
                s3.head_bucket(Bucket=target.bucket)
            for key in target.keys:
                try:
                    ref = describe_object(s3, backend, target.bucket, key)
                    if (why := read_back(s3, backend, ref)) is not None:
                        raise RunFailed(f"s3://{target.bucket}/{key} cannot be read back: {why}")
                    prepared[key] = [ref] * copies_needed
                except RunFailed as exc:
                    self.progress.say(f"skipping {key}: {exc}")
                    prepared[key] = str(exc)
            return prepared
        ensure_bucket(s3, backend, target.bucket, create=True)
        root = target.cache_dir or cache_root()
        for name, size in settings.sizes:
            self.progress.say(
                f"fixture {name} ({format_size(size)}): generating or checking {root}"
            )
            fixture = ensure_fixture(name, size, target.seed, root)
            refs = object_copies(fixture_ref(target.bucket, fixture), copies_needed)
            if prepare_fixture_objects(s3, backend, fixture, refs):
                self.progress.say(f"uploaded {fixture.path.name} to s3://{target.bucket}")
            self.progress.say(f"read back {len(refs)} object(s) of {name} as workers read them")
            prepared[name] = refs
        return prepared

    def _warn_about_capacity(self) -> None:
        limit = self.settings.memory_limit_bytes
        if limit is None:
            return
        total = psutil.virtual_memory().total
        for workers in self.settings.concurrency:
            if workers * limit > total:
                print(
                    f"memharness: warning: {workers} workers x {format_size(limit)} cap = "
                    f"{format_size(workers * limit)}, more than this machine's "
                    f"{format_size(total)}",
                    file=sys.stderr,
                )

    def _warn_about_moto(self, backend: Backend, planned: list[PlannedRun]) -> None:
        if backend.name != "moto":
            return
        large = sorted(
            {
                f"{run.case.strategy} {format_size(run.case.size_bytes)}"
                for run in planned
                if run.case.strategy in RANGED_STRATEGIES
                and run.case.size_bytes > MOTO_WHOLE_OBJECT_WARNING_BYTES
            }
        )
        if large:
            self.progress.say(
                "warning: moto's server reads the whole object on every GET, ranged ones too, so "
                f"timings for {', '.join(large)} are moto's, not the strategy's; use --backend "
                "s3rver"
            )


def plan(
    cases: list[Case],
    copies: dict[str, list[ObjectRef] | str],
    repeat: int,
    done: set[tuple[str, int]],
    backend: Backend,
    wire_mb_s: dict[str, float | None] | None = None,
) -> tuple[list[PlannedRun], list[RunResult]]:
    """The runs still to do, and error results for cases that cannot run at all.

    ``wire_mb_s``: each object's raw GET throughput by key, carried onto its runs' results.
    """
    planned: list[PlannedRun] = []
    unrunnable: list[RunResult] = []
    for case in cases:
        objects = copies[case.object_name]
        object_key = case.object_name if isinstance(objects, str) else objects[0].key
        case_id = key_of_case(case, object_key, backend.name).case_id
        for index in range(repeat):
            if (case_id, index) in done:
                continue
            reason = objects if isinstance(objects, str) else _disk_shortfall(case)
            if reason is None and not isinstance(objects, str):
                wire_speed = (wire_mb_s or {}).get(object_key)
                run = PlannedRun(case, objects_for(case, objects), case_id, index, wire_speed)
                planned.append(run)
                continue
            unrunnable.extend(
                RunResult.for_case(
                    case,
                    index,
                    worker,
                    case_id=case_id,
                    run_id="-",
                    group_id="-",
                    object_key=object_key,
                    status="error",
                    backend=backend.name,
                    started_at=utc_stamp(),
                    error=reason,
                    error_type="NotRunnable",
                )
                for worker in range(case.workers)
            )
    return planned, unrunnable


def _disk_shortfall(case: Case) -> str | None:
    """Why the temp disk cannot hold this case's downloads, or None if it can."""
    copies = case.concurrency * (2 if case.process == "split" else 1)
    needed = case.size_bytes * copies + DISK_MARGIN_BYTES
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free >= needed:
        return None
    return (
        f"not enough disk in {tempfile.gettempdir()}: {format_size(free)} free, the case may "
        f"write {format_size(needed)}"
    )
