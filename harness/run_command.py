"""``memharness run``: plan the cases, prepare the objects, run them, print the table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import registry
from harness.backends import Backend, open_backend
from harness.errors import RunFailed, UsageError
from harness.fixture_cache import cache_root, ensure_fixture
from harness.records import Case, ObjectRef, RunResult
from harness.results import ResultsWriter, prepare_out_dir, utc_stamp, write_meta
from harness.runner import PlannedRun, run_all
from harness.s3_objects import (
    describe_object,
    ensure_bucket,
    fixture_ref,
    make_client,
    s3_errors,
    upload_fixture,
)
from harness.sizes import format_mb, format_size, parse_size
from harness.table import render
from strategies.processing import PROCESS_STEPS


def run_command(args: argparse.Namespace) -> int:
    """Validate everything first, then measure; exit 0 only when every run ended ok."""
    strategies = registry.parse_strategy_list(args.strategies)
    overrides = registry.parse_param_overrides(args.param)
    for name in overrides:
        if name not in strategies:
            raise UsageError(f"--param names strategy {name!r}, which is not in this run")
    params = {
        name: registry.resolve_params(registry.load(name), overrides.get(name, {}))
        for name in strategies
    }
    if args.process not in PROCESS_STEPS:
        raise UsageError(
            f"unknown process step {args.process!r}; choose one of: {', '.join(PROCESS_STEPS)}"
        )
    process_params = {"split_part_bytes": parse_size(args.split_part_size)}
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.key and args.sizes:
        raise UsageError("--key fetches existing objects; it cannot be combined with --sizes")
    sizes = [] if args.key else _sizes(args.sizes)

    out_dir = prepare_out_dir(args.out or Path("reports") / utc_stamp())
    writer = ResultsWriter(out_dir)
    with open_backend(args.backend, args.endpoint_url, args.region, out_dir) as backend:
        _say(f"backend: {backend.name} at {backend.display_url}; results: {out_dir}")
        objects = _prepare_objects(args, backend, sizes)
        write_meta(
            out_dir,
            backend.name,
            backend.endpoint_url,
            {"strategies": strategies, "process": args.process, "bucket": args.bucket},
        )
        planned, failed = [], []
        for object_name, ref in objects:
            for strategy in strategies:
                case = Case(
                    strategy=strategy,
                    object_name=object_name,
                    size_bytes=ref.size_bytes if isinstance(ref, ObjectRef) else 0,
                    process=args.process,
                    params=params[strategy],
                    process_params=process_params,
                )
                if isinstance(ref, ObjectRef):
                    planned.append(PlannedRun(case, ref))
                else:
                    failed.append(_unmeasured(case, ref, backend))
        for result in failed:
            writer.append(result)
        total = len(planned)
        progress = _Progress(total)
        results = failed + run_all(
            planned, backend, writer, timeout_s=args.timeout, on_result=progress
        )
    print(render(results))
    print(f"\nresults: {writer.path}")
    return 0 if all(r.status == "ok" for r in results) else 1


def _sizes(text: str | None) -> list[tuple[str, int]]:
    from harness.cli import fixture_sizes

    return fixture_sizes(text)


def _prepare_objects(
    args: argparse.Namespace, backend: Backend, sizes: list[tuple[str, int]]
) -> list[tuple[str, ObjectRef | str]]:
    """Each object to fetch, or the one-line reason it cannot be fetched."""
    s3 = make_client(backend)
    if args.key:
        with s3_errors(backend, f"bucket {args.bucket!r}"):
            s3.head_bucket(Bucket=args.bucket)
        prepared: list[tuple[str, ObjectRef | str]] = []
        for key in args.key:
            try:
                prepared.append((key, describe_object(s3, backend, args.bucket, key)))
            except RunFailed as exc:
                _say(f"skipping {key}: {exc}")
                prepared.append((key, str(exc)))
        return prepared
    ensure_bucket(s3, backend, args.bucket, create=True)
    root = args.cache_dir or cache_root()
    prepared = []
    for name, size in sizes:
        _say(f"fixture {name} ({format_size(size)}): generating or checking cache in {root}")
        fixture = ensure_fixture(name, size, args.seed, root)
        if upload_fixture(s3, backend, args.bucket, fixture):
            _say(f"uploaded {fixture.path.name} to s3://{args.bucket}/{fixture.object_key}")
        prepared.append((name, fixture_ref(args.bucket, fixture)))
    return prepared


def _unmeasured(case: Case, reason: str, backend: Backend) -> RunResult:
    from datetime import datetime, timezone

    return RunResult(
        run_id="-",
        case_id=case.case_id,
        strategy=case.strategy,
        object_name=case.object_name,
        object_key=case.object_name,
        size_bytes=0,
        process=case.process,
        params=case.params,
        process_params=case.process_params,
        status="error",
        error=reason,
        error_type="ObjectUnavailable",
        peak_rss_bytes=None,
        peak_rss_source=None,
        ru_maxrss_bytes=None,
        baseline_rss_bytes=None,
        interpreter_rss_bytes=None,
        sampled_peak_rss_bytes=None,
        samples=0,
        wall_s=None,
        total_wall_s=0.0,
        throughput_mb_s=None,
        bytes_fetched=0,
        verified=None,
        pages=None,
        temp_files_left=0,
        temp_bytes_left=0,
        exit_code=None,
        signal=None,
        backend=backend.name,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        timeline_file=None,
    )


class _Progress:
    """One line per finished run on stderr, so long runs show where they are."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __call__(self, result: RunResult) -> None:
        self.done += 1
        _say(
            f"[{self.done}/{self.total}] {result.strategy} {format_size(result.size_bytes)}: "
            f"{result.status}, peak {format_mb(result.peak_rss_bytes)} MB, "
            f"{'-' if result.wall_s is None else f'{result.wall_s:.2f}'} s"
        )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
