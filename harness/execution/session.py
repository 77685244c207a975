"""A measurement session: settings -> objects -> plan -> executor -> results directory.

The one path every entry point takes (``memharness run``, the pytest plugin, the tests): it
checks everything it can before creating anything, starts (or reaches) the backend, prepares
the objects (fixtures generated and uploaded, copies for concurrent fetches), plans the runs
(minus those a resumed directory already has), hands them to an executor and leaves a results
directory behind. An executor runs planned runs and appends their results as each ends; the
local one (:class:`LocalExecutor`) runs each case as fresh worker processes on this machine.

What is not measurement is kept short and shown: s3rver keeps its data directory in the cache,
so a second session on the same fixtures uploads nothing and reads back only what changed
(``backends.data_cache``, ``readback_ledger``); the wire yardstick is measured just before the
first run of each object (not all objects before the first run) and kept for ``--resume``; and
meta.json records where the session's time went (``phases``) and what it uploaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, overload

import psutil

from memharness_s3 import log
from memharness_s3.analysis.identity import key_of_case
from memharness_s3.config import registry
from memharness_s3.config.settings import RunSettings, check_bounds, to_meta
from memharness_s3.config.sizes import format_budget, format_size
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.execution import phases
from memharness_s3.execution.caps import enforcement_available
from memharness_s3.execution.host_memory import HostReporting
from memharness_s3.execution.local.runner import run_all, sweep_stale_temp_dirs
from memharness_s3.execution.phases import PhaseClock
from memharness_s3.fixtures.catalog import DEFAULT_SEED
from memharness_s3.model.records import Case, ObjectRef, RunResult
from memharness_s3.model.ticks import Tick
from memharness_s3.plan.runs import (
    PlannedRun,
    build_cases,
    completed_runs,
    object_copies,
    objects_for,
)
from memharness_s3.results.loader import load, load_meta
from memharness_s3.results.writer import (
    RESULTS_FILE,
    ResultsWriter,
    prepare_out_dir,
    update_meta,
    utc_stamp,
    write_meta,
)
from memharness_s3.s3 import wire
from memharness_s3.s3.backends import Backend, check_backend_options, data_cache, open_backend
from memharness_s3.s3.backends import s3rver as s3rver_backend
from memharness_s3.s3.backends.health import BackendGuard
from memharness_s3.s3.faults.inject import check_fault_backend
from memharness_s3.s3.faults.spec import parse_fault
from memharness_s3.s3.fixture_cache import cache_root, ensure_fixture
from memharness_s3.s3.objects import (
    Preparation,
    describe_object,
    ensure_bucket,
    fixture_ref,
    make_client,
    prepare_fixture_objects,
    read_back,
    s3_errors,
)
from memharness_s3.s3.readback_ledger import ReadBackLedger
from memharness_s3.s3.wire import median_mb_s
from memharness_s3.views.progress import Progress

_log = log.get("session")

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
    host: HostReporting = field(default_factory=lambda: HostReporting(settle=False))
    """Free page reporting around each run: recorded, and waited for with
    ``--settle-host-memory``."""


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
            execution.host,
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
        self.clock = PhaseClock()
        """Where this session's time went (meta.json's ``phases``); the caller may add phases
        (the report) and call :meth:`record_phases` again."""
        self.preparation = Preparation()
        """What preparing the objects cost (meta.json's ``uploaded_bytes``...)."""
        self.measured_fetch_s: float | None = None
        """The measured fetch phases of this session's runs: per run, its slowest worker's."""
        self._wire: dict[str, list[float]] = {}
        """Every wire GET's MB/s per object key, measured this session or by the one resumed."""
        self._wire_failed = False
        self._earlier_groups: set[str] = set()
        """The runs (group ids) a resumed directory had before this session."""

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
        if self.settings.executor == "celery" and self.settings.scope == "worker":
            raise UsageError(
                "--memory-scope worker cannot be had with --executor celery: a node's prefork "
                "children share its cap (drop --memory-scope, or use --executor local)"
            )
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
        results: list[RunResult] | None = None
        try:
            prepare_out_dir(self.out_dir, self.resume)
            sweep_stale_temp_dirs()
            with contextlib.ExitStack() as stack:
                with self.clock.phase(phases.BACKEND_START):
                    open_one = stack.enter_context(self._backend(backend))
                self._measure(open_one)
        except (UsageError, RunFailed) as exc:
            self._cleanup(created, str(exc))
            raise
        finally:  # an interrupted session's meta.json says where its time went too
            with contextlib.suppress(OSError, ValueError, UsageError, RunFailed):
                results = self._finish()
        return results if results is not None else load(self.out_dir, allow_empty=True).results

    def _finish(self) -> list[RunResult]:
        """Every result in the directory, once this session's measured fetches are counted and
        its phases recorded."""
        results = load(self.out_dir, allow_empty=True).results
        self.measured_fetch_s = measured_fetch_s(
            r for r in results if r.group_id not in self._earlier_groups
        )
        self.record_phases()
        return results

    def record_phases(self) -> None:
        """Write the phases so far, the bytes uploaded and the measured fetch seconds into
        meta.json (again, after the caller timed more phases)."""
        update_meta(
            self.out_dir,
            {
                "phases": self.clock.rounded(),
                "uploaded_bytes": self.preparation.uploaded_bytes,
                "copied_bytes": self.preparation.copied_bytes,
                "read_back_bytes": self.preparation.read_back_bytes,
                "measured_fetch_s": (
                    round(self.measured_fetch_s, 2) if self.measured_fetch_s is not None else None
                ),
            },
        )

    def _check_room_for_copies(self) -> None:
        """UsageError when the objects and their copies for concurrent workers cannot fit on
        the temp disk, where a launched backend keeps them (s3rver's and MinIO's data
        directory; moto spills objects to temp files): checked before the first copy is made."""
        if self.backend_name == "endpoint" or self.target.keys:
            return
        copies = 1 if self.settings.shared_object else max(self.settings.concurrency)
        stored = sum(size for _, size in self.settings.sizes) * copies
        where, free = Path(tempfile.gettempdir()), shutil.disk_usage(tempfile.gettempdir()).free
        if self.backend_name == "s3rver":
            # kept in the cache: what is there already (the same objects, mostly) needs no room
            where = self._cache_root() / data_cache.SERVERS_DIR
            free = data_cache.disk_free(where) + data_cache.stored_bytes(
                self._cache_root(), s3rver_backend.CACHE_KEY
            )
        if stored + DISK_MARGIN_BYTES > free:
            raise UsageError(
                f"the objects and their {copies} copies each for concurrent workers take "
                f"{format_size(stored)}, more than the {format_size(free)} free in "
                f"{where} where {self.backend_name} keeps them: lower "
                "--concurrency or --sizes, or use --shared-object"
            )

    def _cache_root(self) -> Path:
        return self.target.cache_dir or cache_root()

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
            self._cache_root(),
        ) as started:
            yield started

    def _measure(self, backend: Backend) -> None:
        settings, progress = self.settings, self.progress
        writer = ResultsWriter(self.out_dir)
        earlier = load(self.out_dir, allow_empty=True).results if self.resume else []
        done = completed_runs(earlier)
        self._earlier_groups = {result.group_id for result in earlier}
        progress.say(f"backend: {backend.name} at {backend.display_url}; results: {self.out_dir}")
        if limit := settings.memory_limit_bytes:
            progress.say(f"memory cap: {format_budget(limit, settings.scope)}")
        self._say_where_objects_live(backend)
        copies = self._prepare_objects(backend)
        self._say_preparation()
        if self.resume:
            self._wire = _wire_of_resumed(self.out_dir, backend)
        else:
            meta = {**self._meta(), "wire_mb_s": {}}
            write_meta(self.out_dir, backend.name, backend.endpoint_url, meta)
        self.record_phases()
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
            memory_scope=settings.scope,
            env=settings.env,
        )
        planned, unrunnable = plan(cases, copies, settings.repeat, done, backend)
        for result in unrunnable:
            writer.append(result)
        progress.total = len(planned)
        _log.info(
            "%d cases, %d runs to measure on the %s executor (%d cannot run)",
            len(cases),
            len(planned),
            settings.executor,
            len(unrunnable),
        )
        self._warn_about_moto(backend, planned)
        if done:
            progress.say(
                f"resuming: {len(done)} runs already in {writer.path}, {len(planned)} to go"
            )
        guard = BackendGuard(
            backend, self.target.bucket, lambda: self._restore_objects(backend), progress.say
        )
        with_wire = WireOnFirstUse(planned, lambda key: self._wire_of(backend, key))
        host = HostReporting(
            settings.settle_host_memory, timed=lambda: self.clock.phase(phases.HOST_MEMORY)
        )
        update_meta(self.out_dir, {"host_memory": host.describe()})
        if host.active and not host.settling:
            progress.say(
                "this machine hands freed memory back to its host (free page reporting): a run "
                "that starts within ~2 s of the one before can fetch at twice its speed; "
                "--settle-host-memory makes every run wait for it"
            )
        with self.clock.phase(phases.MEASURED_RUNS):
            self.executor.execute(
                with_wire, Execution(backend, writer, settings, progress, guard, host)
            )

    def _restore_objects(self, backend: Backend) -> None:
        """Prepare the objects again on a restarted server that kept them in memory (moto):
        the same keys, so the planned runs' object references stay right."""
        self._prepare_objects(backend)

    def _wire_of(self, backend: Backend, key: str) -> float | None:
        """The median raw GET throughput of ``key`` (MB/s), measured the first time it is asked
        for (just before the first run of its object) and recorded in meta.json at once."""
        if key not in self._wire and not self._wire_failed:
            self.progress.say(f"wire: {wire.DEFAULT_REPEATS} plain GETs of {key}")
            try:
                with self.clock.phase(phases.WIRE):
                    found = wire.measure(
                        backend.endpoint_url,
                        backend.region,
                        self.target.bucket,
                        [key],
                        backend.worker_env,
                    )
            except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
                _log.warning("wire throughput not measured: %s", exc)
                self._wire_failed = True  # not tried again before every run
                return None
            self._wire.update(found)
            update_meta(self.out_dir, {"wire_mb_s": self._wire})
        return median_mb_s(self._wire.get(key, []))

    def meta(self) -> dict[str, Any]:
        """What meta.json records of the session before anything is measured: ``memharness
        limits`` writes it once for a search whose probes are sessions resumed into one
        directory."""
        return self._meta()

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
            "isolation": self.settings.isolation,
            "cap_enforcement": (
                enforcement_available() if self.settings.memory_limit_bytes else None
            ),
        }

    def _prepare_objects(self, backend: Backend) -> dict[str, list[ObjectRef] | str]:
        """For each object name, the objects its fetches get (copies for concurrency), or why
        it cannot be fetched."""
        settings, target, clock = self.settings, self.target, self.clock
        s3 = make_client(backend)
        copies_needed = 1 if settings.shared_object else max(settings.concurrency)
        prepared: dict[str, list[ObjectRef] | str] = {}
        if target.keys:
            with s3_errors(backend, f"bucket {target.bucket!r}"):
                s3.head_bucket(Bucket=target.bucket)
            for key in target.keys:
                try:
                    ref = describe_object(s3, backend, target.bucket, key)
                    with clock.phase(phases.VERIFICATION):
                        why = read_back(s3, backend, ref)
                    self.preparation.read_back_bytes += ref.size_bytes
                    if why is not None:
                        raise RunFailed(f"s3://{target.bucket}/{key} cannot be read back: {why}")
                    prepared[key] = [ref] * copies_needed
                except RunFailed as exc:
                    self.progress.say(f"skipping {key}: {exc}")
                    prepared[key] = str(exc)
            return prepared
        ensure_bucket(s3, backend, target.bucket, create=True)
        root = self._cache_root()
        launched = backend.launched
        ledger = (
            ReadBackLedger.load(launched.cached.ledger_path)
            if launched is not None and launched.cached is not None
            else None
        )
        for name, size in settings.sizes:
            self.progress.say(
                f"fixture {name} ({format_size(size)}): generating or checking {root}"
            )
            with clock.phase(phases.FIXTURES):
                fixture = ensure_fixture(name, size, target.seed, root)
            refs = object_copies(fixture_ref(target.bucket, fixture), copies_needed)
            with clock.phase(phases.UPLOAD):
                done = prepare_fixture_objects(s3, backend, fixture, refs, ledger, clock)
            self.preparation.add(done)
            if done.uploaded_bytes:
                self.progress.say(
                    f"uploaded {format_size(done.uploaded_bytes)} of {fixture.path.name} "
                    f"to s3://{target.bucket}"
                )
            read = len(refs) - done.vouched
            self.progress.say(
                f"read back {read} of {len(refs)} object(s) of {name} as workers read them"
                + (
                    f" ({done.vouched} unchanged since an earlier read-back)"
                    if done.vouched
                    else ""
                )
            )
            prepared[name] = refs
        return prepared

    def _say_where_objects_live(self, backend: Backend) -> None:
        launched = backend.launched
        if launched is None or launched.spec.cache_key is None:
            return
        if launched.cached is not None:
            self.progress.say(
                f"{launched.spec.name} data: {launched.cached.path} (kept between sessions)"
            )
        else:
            self.progress.say(
                f"{launched.spec.name} data: a temp directory (another session holds the cached "
                "one): every object is uploaded again"
            )

    def _say_preparation(self) -> None:
        done = self.preparation
        if self.target.keys:
            return
        self.progress.say(
            f"objects: {format_size(done.uploaded_bytes)} uploaded, "
            f"{format_size(done.copied_bytes)} copied on the server, "
            f"{format_size(done.read_back_bytes)} read back"
        )

    def _warn_about_capacity(self) -> None:
        limit = self.settings.memory_limit_bytes
        if limit is None:
            return
        total = psutil.virtual_memory().total
        if self.settings.scope == "node":
            if limit > total:
                _log.warning(
                    "a cap of %s is more than this machine's %s",
                    format_budget(limit, "node"),
                    format_size(total),
                )
            return
        for workers in self.settings.concurrency:
            if workers * limit > total:
                _log.warning(
                    "%d workers x %s cap = %s, more than this machine's %s",
                    workers,
                    format_size(limit),
                    format_size(workers * limit),
                    format_size(total),
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
            _log.warning(
                "moto's server reads the whole object on every GET, ranged ones too, so timings "
                "for %s are moto's, not the strategy's; use --backend s3rver",
                ", ".join(large),
            )


class WireOnFirstUse(Sequence[PlannedRun]):
    """Planned runs whose ``wire_mb_s`` is filled in as each is taken, from ``wire_of`` (which
    measures an object's wire the first time it is asked): the first run starts after one wire
    measurement, not after one per object of the session."""

    def __init__(self, runs: Sequence[PlannedRun], wire_of: Callable[[str], float | None]) -> None:
        self._runs = runs
        self._wire_of = wire_of

    def __len__(self) -> int:
        return len(self._runs)

    @overload
    def __getitem__(self, index: int) -> PlannedRun: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PlannedRun]: ...

    def __getitem__(self, index: int | slice) -> PlannedRun | Sequence[PlannedRun]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        run = self._runs[index]
        return dataclasses.replace(run, wire_mb_s=self._wire_of(run.objects[0].key))


def measured_fetch_s(results: Iterable[RunResult]) -> float:
    """The seconds of measured fetches: per run (group of concurrent workers), its slowest
    worker's fetch phase (``wall_s``), summed over the runs."""
    slowest: dict[str, float] = {}
    for result in results:
        if result.wall_s is not None:
            slowest[result.group_id] = max(slowest.get(result.group_id, 0.0), result.wall_s)
    return sum(slowest.values())


def _wire_of_resumed(out_dir: Path, backend: Backend) -> dict[str, list[float]]:
    """The wire GETs of the session being resumed, when it measured the same backend (for an
    endpoint, the same URL; a launched server's port changes between sessions)."""
    raw = load_meta(out_dir).raw
    if raw.get("backend") != backend.name:
        return {}
    if backend.name == "endpoint" and raw.get("endpoint_url") != backend.endpoint_url:
        return {}
    found = raw.get("wire_mb_s")
    if not isinstance(found, dict):
        return {}
    return {
        str(key): [float(x) for x in samples]
        for key, samples in found.items()
        if isinstance(samples, list)
        and samples
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in samples)
    }


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
