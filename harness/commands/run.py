"""``memharness run``: settle the settings, prepare the objects, run the cases, show the table.

Settings come from the command line, or from a matrix file (``--matrix``) with command-line
options overriding it, or, with ``--resume DIR``, from ``DIR/meta.json``. All of it is validated
before anything is started.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

from memharness_s3 import registry
from memharness_s3.backends import Backend, open_backend
from memharness_s3.caps import enforcement_available
from memharness_s3.commands.options import add_fixture_options
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.faults.inject import check_fault_backend
from memharness_s3.faults.spec import parse_fault, parse_fault_list
from memharness_s3.fixture_cache import cache_root, ensure_fixture, resolve_sizes
from memharness_s3.matrix import MatrixSpec, load_matrix
from memharness_s3.plan import build_cases, completed_runs, object_copies, objects_for
from memharness_s3.progress import Progress
from memharness_s3.records import POOLS, Case, Expectation, ObjectRef, RunResult
from memharness_s3.report.html import render_report
from memharness_s3.results import (
    META_FILE,
    ResultsWriter,
    prepare_out_dir,
    read_results,
    utc_stamp,
    write_meta,
)
from memharness_s3.runner import PlannedRun, run_all, sweep_stale_temp_dirs
from memharness_s3.s3_objects import (
    copy_object,
    describe_object,
    ensure_bucket,
    fixture_ref,
    make_client,
    s3_errors,
    upload_fixture,
)
from memharness_s3.sizes import format_size, parse_size
from memharness_s3.strategies.processing import PROCESS_STEPS
from memharness_s3.summary import render_summary
from memharness_s3.table import render

DISK_MARGIN_BYTES = 256 * 10**6
IDLE_WORKER_BYTES = 52 * 10**6
"""RSS of an idle worker (Python, boto3, one client) measured on the development machine."""
MOTO_WHOLE_OBJECT_WARNING_BYTES = 500 * 10**6
RANGED_STRATEGIES = ("range", "transfer-manager")

_PLAN_OPTIONS = (
    "strategies",
    "sizes",
    "concurrency",
    "pool",
    "shared_object",
    "memory_limit",
    "process",
    "split_part_size",
    "param",
    "repeat",
    "timeout",
    "memray",
    "matrix",
    "key",
    "fault",
)


NAME = "run"
HELP = "measure strategies fetching PDFs from S3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matrix", type=Path, help="TOML matrix file (options below override it)")
    parser.add_argument(
        "--resume", type=Path, metavar="DIR", help="run only the cases missing from DIR"
    )
    parser.add_argument("--strategies", help="comma-separated strategy names (default: all)")
    add_fixture_options(parser)
    parser.add_argument(
        "--concurrency", help="worker counts, each its own set of cases (default: 1), e.g. 1,4"
    )
    parser.add_argument(
        "--pool", help="processes (default: N worker processes) or threads (N threads in one)"
    )
    parser.add_argument(
        "--shared-object",
        action="store_true",
        help="concurrent fetches share one object (default: each gets its own copy)",
    )
    parser.add_argument("--memory-limit", help="hard cap per worker, e.g. 512MB (default: none)")
    parser.add_argument("--memray", action="store_true", help="record heap attribution with memray")
    parser.add_argument("--repeat", type=int, help="run each case this many times (default: 1)")
    parser.add_argument("--backend", help="moto (default), s3rver, minio or endpoint")
    parser.add_argument(
        "--endpoint-url", help="S3 endpoint URL for --backend endpoint (default: AWS_ENDPOINT_URL)"
    )
    parser.add_argument(
        "--textract-endpoint-url",
        help="Textract endpoint (default: moto's own, or a moto started beside s3rver/minio)",
    )
    parser.add_argument("--region", help="region for the clients (default: us-east-1)")
    parser.add_argument("--bucket", default="memharness", help="bucket (default: memharness)")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help="fetch this existing object instead of generated fixtures (repeatable)",
    )
    parser.add_argument("--process", help="step after fetching: none (default), pages, split")
    parser.add_argument(
        "--split-part-size", help="largest part the split step writes (default 100MB)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="STRATEGY.NAME=VALUE",
        help="override a strategy parameter, e.g. chunked.chunk_size=16MiB (repeatable)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault between workers and S3, each its own set of cases (repeatable): "
        "reset-mid-body@30%%, truncate, slowdown-503:3, error-500:2, latency:200ms, "
        "bandwidth:20MB/s, backend-kill@30%%, or none",
    )
    parser.add_argument("--timeout", type=float, help="seconds per worker run (default: 900)")
    parser.add_argument("--out", type=Path, help="results directory (default: reports/<UTC time>)")


def run(args: argparse.Namespace) -> int:
    """Validate everything first, then measure; exit 0 when every run ended ok or oom."""
    if args.resume is not None:
        spec, out_dir, keys = _resume_settings(args)
    else:
        spec, keys = _settings(args), list(args.key)
        out_dir = args.out or Path("reports") / utc_stamp()
    params = {
        name: registry.resolve_params(registry.load(name), spec.params.get(name, {}))
        for name in spec.strategies
    }
    backend_name = spec.backend or "moto"
    endpoint_url = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    for fault in spec.faults:
        if fault is not None:
            check_fault_backend(parse_fault(fault), backend_name, endpoint_url)
    _check_cap(spec)
    _warn_about_capacity(spec)
    prepare_out_dir(out_dir)
    sweep_stale_temp_dirs()
    writer = ResultsWriter(out_dir)
    done = completed_runs(read_results(out_dir)) if args.resume is not None else set()
    progress = Progress(0)
    with open_backend(
        backend_name, args.endpoint_url, args.region, out_dir, args.textract_endpoint_url
    ) as backend:
        progress.say(f"backend: {backend.name} at {backend.display_url}; results: {out_dir}")
        copies = _prepare_objects(args, spec, keys, backend, progress)
        if args.resume is None:
            write_meta(
                out_dir,
                backend.name,
                backend.endpoint_url,
                {
                    "settings": settings_to_dict(spec),
                    "keys": keys,
                    "bucket": args.bucket,
                    "cap_enforcement": enforcement_available() if spec.memory_limit_bytes else None,
                },
            )
        sizes = [
            (name, refs[0].size_bytes if isinstance(refs, list) else 0)
            for name, refs in copies.items()
        ]
        cases = build_cases(
            sizes,
            spec.strategies,
            spec.concurrency,
            params,
            faults=spec.faults,
            process=spec.process,
            process_params={"split_part_bytes": spec.split_part_bytes},
            pool=spec.pool,
            shared_object=spec.shared_object,
            memory_limit_bytes=spec.memory_limit_bytes,
            memray=spec.memray,
        )
        planned, unrunnable = _plan(cases, copies, spec.repeat, done, backend)
        for result in unrunnable:
            writer.append(result)
        progress.total = len(planned)
        _warn_about_moto(backend, planned, progress)
        if done:
            progress.say(
                f"resuming: {len(done)} runs already in {writer.path}, {len(planned)} to go"
            )
        run_all(
            planned,
            backend,
            writer,
            timeout_s=spec.timeout_s,
            on_result=progress.result,
            on_tick=progress.tick,
        )
    results = read_results(out_dir)
    print(render(results))
    if spec.repeat > 1 or any(r.concurrency > 1 for r in results):
        print("\n" + render_summary(results))
    print(f"\nresults: {writer.path}")
    print(f"report:  {render_report(out_dir)}")
    return 0 if all(r.status in ("ok", "oom") for r in results) else 1


def _settings(args: argparse.Namespace) -> MatrixSpec:
    """The matrix file's settings (or the defaults) with explicit command-line options on top."""
    if args.matrix is not None:
        spec = load_matrix(args.matrix)
    else:
        spec = MatrixSpec(
            sizes=[] if args.key else resolve_sizes(None),
            strategies=registry.parse_strategy_list(None),
        )
    changes: dict[str, Any] = {}
    if args.sizes is not None:
        changes["sizes"] = resolve_sizes(args.sizes)
    if args.key:
        if args.sizes is not None:
            raise UsageError("--key fetches existing objects; it cannot be combined with --sizes")
        changes["sizes"] = []
    if args.strategies is not None:
        changes["strategies"] = registry.parse_strategy_list(args.strategies)
    if args.concurrency is not None:
        changes["concurrency"] = parse_concurrency(args.concurrency)
    if args.pool is not None:
        if args.pool not in POOLS:
            raise UsageError(f"unknown pool {args.pool!r}; choose one of: {', '.join(POOLS)}")
        changes["pool"] = args.pool
    if args.shared_object:
        changes["shared_object"] = True
    if args.memory_limit is not None:
        changes["memory_limit_bytes"] = parse_size(args.memory_limit)
    if args.process is not None:
        if args.process not in PROCESS_STEPS:
            raise UsageError(
                f"unknown process step {args.process!r}; choose one of: {', '.join(PROCESS_STEPS)}"
            )
        changes["process"] = args.process
    if args.split_part_size is not None:
        changes["split_part_bytes"] = parse_size(args.split_part_size)
    if args.repeat is not None:
        if args.repeat < 1:
            raise UsageError(f"--repeat must be at least 1, got {args.repeat}")
        changes["repeat"] = args.repeat
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        changes["timeout_s"] = args.timeout
    if args.memray:
        changes["memray"] = True
    if args.backend is not None:
        changes["backend"] = args.backend
    if args.fault:
        changes["faults"] = parse_fault_list(args.fault)
    spec = dataclasses.replace(spec, **changes)
    overrides = registry.parse_param_overrides(args.param)
    for name in overrides:
        if name not in spec.strategies:
            raise UsageError(f"--param names strategy {name!r}, which is not in this run")
    merged = {
        name: {**spec.params.get(name, {}), **overrides.get(name, {})} for name in spec.strategies
    }
    return dataclasses.replace(spec, params=merged)


def parse_concurrency(text: str) -> list[int]:
    """``--concurrency 1,4`` as worker counts, each at least 1."""
    values = []
    for item in text.split(","):
        try:
            value = int(item.strip())
        except ValueError:
            raise UsageError(f"malformed --concurrency {text!r}: expected e.g. 1,4") from None
        if value < 1:
            raise UsageError(f"concurrency {value} is not a worker count: use 1 or more")
        values.append(value)
    return values


def settings_to_dict(spec: MatrixSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def settings_from_dict(data: dict[str, Any]) -> MatrixSpec:
    fields = dict(data)
    fields["sizes"] = [tuple(item) for item in fields["sizes"]]
    fields["expect"] = [Expectation(**item) for item in fields.get("expect", [])]
    return MatrixSpec(**fields)


def _resume_settings(args: argparse.Namespace) -> tuple[MatrixSpec, Path, list[str]]:
    given = [name for name in _PLAN_OPTIONS if getattr(args, name) not in (None, False, [])]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(f"--resume takes its settings from {META_FILE}; drop {flags}")
    out_dir: Path = args.resume
    try:
        meta = json.loads((out_dir / META_FILE).read_text())
        spec = settings_from_dict(meta["settings"])
    except FileNotFoundError:
        raise UsageError(f"nothing to resume: no {META_FILE} in {out_dir}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{out_dir / META_FILE} is not a memharness meta file ({exc})") from None
    args.bucket = meta.get("bucket", args.bucket)
    return spec, out_dir, list(meta.get("keys", []))


def _prepare_objects(
    args: argparse.Namespace,
    spec: MatrixSpec,
    keys: list[str],
    backend: Backend,
    progress: Progress,
) -> dict[str, list[ObjectRef] | str]:
    """For each object name, the objects its fetches get (copies for concurrency), or why not."""
    s3 = make_client(backend)
    copies_needed = 1 if spec.shared_object else max(spec.concurrency)
    prepared: dict[str, list[ObjectRef] | str] = {}
    if keys:
        with s3_errors(backend, f"bucket {args.bucket!r}"):
            s3.head_bucket(Bucket=args.bucket)
        for key in keys:
            try:
                prepared[key] = [describe_object(s3, backend, args.bucket, key)] * copies_needed
            except RunFailed as exc:
                progress.say(f"skipping {key}: {exc}")
                prepared[key] = str(exc)
        return prepared
    ensure_bucket(s3, backend, args.bucket, create=True)
    root = args.cache_dir or cache_root()
    for name, size in spec.sizes:
        progress.say(f"fixture {name} ({format_size(size)}): generating or checking {root}")
        fixture = ensure_fixture(name, size, args.seed, root)
        if upload_fixture(s3, backend, args.bucket, fixture):
            progress.say(f"uploaded {fixture.path.name} to s3://{args.bucket}")
        copies = object_copies(fixture_ref(args.bucket, fixture), copies_needed)
        for copy in copies[1:]:
            copy_object(s3, backend, copies[0], copy)
        prepared[name] = copies
    return prepared


def _plan(
    cases: list[Case],
    copies: dict[str, list[ObjectRef] | str],
    repeat: int,
    done: set[tuple[str, int]],
    backend: Backend,
) -> tuple[list[PlannedRun], list[RunResult]]:
    """The runs still to do, and error results for cases that cannot run at all."""
    planned: list[PlannedRun] = []
    unrunnable: list[RunResult] = []
    for case in cases:
        objects = copies[case.object_name]
        for index in range(repeat):
            if (case.case_id, index) in done:
                continue
            reason = objects if isinstance(objects, str) else _disk_shortfall(case)
            if reason is None and not isinstance(objects, str):
                planned.append(PlannedRun(case, objects_for(case, objects), index))
                continue
            unrunnable.extend(
                RunResult.for_case(
                    case,
                    index,
                    worker,
                    run_id="-",
                    group_id="-",
                    object_key=case.object_name,
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


def _check_cap(spec: MatrixSpec) -> None:
    """A cap below what an idle worker needs would only measure the interpreter failing."""
    limit = spec.memory_limit_bytes
    if limit is not None and limit <= IDLE_WORKER_BYTES:
        raise UsageError(
            f"memory limit {format_size(limit)} is below a worker's baseline: an idle worker with "
            f"boto3 and a client needs about {format_size(IDLE_WORKER_BYTES)} before it fetches "
            "anything"
        )


def _warn_about_capacity(spec: MatrixSpec) -> None:
    total = psutil.virtual_memory().total
    if spec.memory_limit_bytes is None:
        return
    for workers in spec.concurrency:
        if workers * spec.memory_limit_bytes > total:
            print(
                f"memharness: warning: {workers} workers x {format_size(spec.memory_limit_bytes)} "
                f"cap = {format_size(workers * spec.memory_limit_bytes)}, more than this "
                f"machine's {format_size(total)}",
                file=sys.stderr,
            )


def _warn_about_moto(backend: Backend, planned: list[PlannedRun], progress: Progress) -> None:
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
        progress.say(
            "warning: moto's server reads the whole object on every GET, ranged ones too, so "
            f"timings for {', '.join(large)} are moto's, not the strategy's; use --backend s3rver"
        )
