"""``memharness limits``: the largest object size each strategy survives under a memory limit.

For each memory limit x scope x workers at once x strategy, a size search
(``analysis.safe_size``) tries object sizes between ``--min-size`` and ``--max-size``, ``--tries``
runs at each, until it knows the largest size with no worker killed and the smallest with a
kill. Every probe is measured as ``memharness run`` measures (``safe_size_probe``): its runs
are lines of the results directory's ``results.jsonl``, and each search ends in a line of
``limits.jsonl``. The table and the rules a team pastes into its worker are printed at the end
(``--json``: one JSON object per search instead, as each ends).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memharness_s3.cli.options import (
    add_fixture_options,
    add_param_option,
    add_setting_flag,
    add_target_options,
    with_endpoint,
)
from memharness_s3.config import registry
from memharness_s3.config.bounds import MAX_LIST, MAX_REPEAT
from memharness_s3.config.settings import (
    SETTINGS,
    Choice,
    PositiveInt,
    RunSettings,
    Size,
    check_bounds,
)
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.model.records import MEMORY_SCOPES

if TYPE_CHECKING:
    from memharness_s3.execution.safe_size_probe import Series, SessionProber
    from memharness_s3.execution.session import Executor, Target
    from memharness_s3.results.safe_sizes import SizeLimit

NAME = "limits"
HELP = "find the largest object size each strategy survives under a memory limit"

OWN = {"sizes", "repeat", "memory_limit", "memory_scope", "memray", "faults"}
"""Settings this command takes its own way (lists of limits and scopes, ``--tries``, a size
range) or not at all: a search measures fault-free runs, without memray's overhead."""
DEFAULT_TRIES = 3
DEFAULT_MIN_SIZE = "10MB"
DEFAULT_MAX_SIZE = "2GB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-limit",
        required=True,
        metavar="SIZES",
        help="the memory limits to search under, comma-separated, e.g. 512MiB or 256MiB,512MiB",
    )
    parser.add_argument(
        "--memory-scope",
        metavar="SCOPES",
        help="what each limit caps, comma-separated: worker (each worker process) or node (the "
        "workers of a case together, as a container's processes); default: worker for local "
        "runs, node with --executor celery",
    )
    parser.add_argument(
        "--tries",
        default=str(DEFAULT_TRIES),
        help="runs of the case at each size tried; a size is safe when none of them had a "
        f"worker killed (default {DEFAULT_TRIES})",
    )
    parser.add_argument(
        "--min-size",
        default=DEFAULT_MIN_SIZE,
        help=f"the smallest object size tried (default {DEFAULT_MIN_SIZE})",
    )
    parser.add_argument(
        "--max-size",
        default=DEFAULT_MAX_SIZE,
        help=f"the largest object size tried (default {DEFAULT_MAX_SIZE})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per search (strategy x workers x limit x scope) as it ends, "
        "instead of the table",
    )
    add_fixture_options(parser, with_sizes=False)
    for setting in SETTINGS:
        if setting.key not in OWN:
            add_setting_flag(parser, setting, setting.help)
    add_param_option(parser)
    add_target_options(parser)
    parser.add_argument("--out", type=Path, help="results directory (default: reports/<UTC time>)")


@dataclass(frozen=True)
class SearchPlan:
    """Everything the searches need, checked before anything starts."""

    base: RunSettings
    """The settings every probe shares (sizes, strategy, workers, limit and scope aside)."""
    series: list[Series]
    """In the order searched."""
    tries: int
    min_bytes: int
    max_bytes: int


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every search ran to its resolution (kills are what it looks for, not
    failures); 1 when one stopped early, after printing what was found."""
    plan = _plan(args)
    from memharness_s3.execution.session import Target, executor_for

    target = Target(
        endpoint_url=args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        textract_endpoint_url=args.textract_endpoint_url,
        region=args.region,
        bucket=args.bucket,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    broker = args.broker or os.environ.get("MEMHARNESS_BROKER_URL")
    if broker and plan.base.executor != "celery":
        raise UsageError("--broker is for --executor celery")
    executor = executor_for(plan.base, broker)
    out_dir: Path = args.out or Path("reports") / _utc_stamp()
    _check_probes(plan, target, executor, out_dir)
    with _results_dir(out_dir):
        found = _search_all(plan, target, executor, out_dir, args.json)
    _show(found, out_dir, args.json)
    stopped = [limit for limit in found if limit.stopped is not None]
    if stopped:
        reasons = "; ".join(f"{lim.strategy} x{lim.concurrency}: {lim.stopped}" for lim in stopped)
        raise RunFailed(
            f"{len(stopped)} of {len(found)} searches stopped before their resolution: {reasons}"
        )
    return 0


def _check_probes(plan: SearchPlan, target: Target, executor: Executor, out_dir: Path) -> None:
    """Refuse now, not after an hour, what a probe's session would refuse (UsageError)."""
    from memharness_s3.execution.session import Session

    for series in plan.series:
        for size in (plan.min_bytes, plan.max_bytes):
            settings = series.settings(plan.base, size, plan.tries)
            Session(settings, target, out_dir, executor=executor).check()
            check_bounds(settings)


def _search_all(
    plan: SearchPlan, target: Target, executor: Executor, out_dir: Path, as_json: bool
) -> list[SizeLimit]:
    """Every search, on one backend kept up throughout, after meta.json: the probes are sessions
    resumed into ``out_dir``."""
    from memharness_s3.execution.safe_size_probe import SessionProber
    from memharness_s3.execution.session import Session
    from memharness_s3.results.writer import write_meta
    from memharness_s3.s3.backends import open_backend

    with open_backend(
        plan.base.backend or "moto",
        target.endpoint_url,
        target.region,
        out_dir,
        target.textract_endpoint_url,
    ) as backend:
        meta = Session(_overall(plan), target, out_dir, executor=executor).meta()
        meta["limits"] = _describe(plan)
        write_meta(out_dir, backend.name, backend.endpoint_url, meta)
        prober = SessionProber(plan.base, target, out_dir, executor, backend, plan.tries)
        return [_search(series, plan, prober, out_dir, as_json) for series in plan.series]


def _overall(plan: SearchPlan) -> RunSettings:
    """The settings meta.json records: every strategy and worker count searched, the size range,
    the first limit and scope (each search's own are on its ``limits.jsonl`` line)."""
    return dataclasses.replace(
        plan.base,
        sizes=[_size_named(plan.min_bytes), _size_named(plan.max_bytes)],
        strategies=list(dict.fromkeys(s.strategy for s in plan.series)),
        concurrency=list(dict.fromkeys(s.concurrency for s in plan.series)),
        memory_limit_bytes=plan.series[0].memory_limit_bytes,
        memory_scope=plan.series[0].memory_scope,
        repeat=plan.tries,
    )


def _search(
    series: Series, plan: SearchPlan, prober: SessionProber, out_dir: Path, as_json: bool
) -> SizeLimit:
    """One size search, its line appended to ``limits.jsonl`` (a partial one when it is
    interrupted or fails, before the exception goes on)."""
    from memharness_s3.analysis.safe_size import INTERRUPTED, SizeSearch, tries_text
    from memharness_s3.config.sizes import format_size
    from memharness_s3.results import safe_sizes

    search = SizeSearch(plan.min_bytes, plan.max_bytes)

    def line(stopped: str | None = None) -> safe_sizes.SizeLimit:
        limit = safe_sizes.size_limit(search.outcome(stopped), **_fields(series, plan))
        safe_sizes.append(out_dir, limit)
        if as_json:
            print(safe_sizes.to_line(limit), flush=True)
        return limit

    try:
        while (size := search.next_size()) is not None:
            _say(f"limits: {series.label}: trying {format_size(size)}, {tries_text(plan.tries)}")
            probe = prober.probe(series, size)
            search.record(probe)
            _say(f"limits: {series.label}: {probe.describe()}: {probe.verdict}")
    except KeyboardInterrupt:
        line(INTERRUPTED)
        raise
    except (RunFailed, UsageError) as exc:
        line(f"failed: {exc}")
        raise
    return line()


def _fields(series: Series, plan: SearchPlan) -> dict[str, Any]:
    """What a ``limits.jsonl`` line records of the search besides its outcome."""
    return {
        "strategy": series.strategy,
        "concurrency": series.concurrency,
        "memory_limit_bytes": series.memory_limit_bytes,
        "memory_scope": series.memory_scope,
        "tries": plan.tries,
        "min_size_bytes": plan.min_bytes,
        "max_size_bytes": plan.max_bytes,
        "backend": plan.base.backend or "moto",
        "executor": plan.base.executor,
        "pool": plan.base.pool,
        "process": plan.base.process,
        "params": registry.resolve_params(
            registry.load(series.strategy), plan.base.params.get(series.strategy, {})
        ),
        "env": dict(plan.base.env),
    }


def _describe(plan: SearchPlan) -> dict[str, Any]:
    """meta.json's ``limits``: what was searched."""
    from memharness_s3.analysis.safe_size import Resolution

    return {
        "tries": plan.tries,
        "min_size_bytes": plan.min_bytes,
        "max_size_bytes": plan.max_bytes,
        "memory_limits_bytes": sorted({s.memory_limit_bytes for s in plan.series}),
        "memory_scopes": sorted({s.memory_scope for s in plan.series}),
        "resolution": dataclasses.asdict(Resolution()),
    }


def _show(found: list[SizeLimit], out_dir: Path, as_json: bool) -> None:
    from memharness_s3.results.safe_sizes import LIMITS_FILE
    from memharness_s3.results.writer import RESULTS_FILE
    from memharness_s3.views.html.page import render_report
    from memharness_s3.views.safe_size_table import render

    stream = sys.stderr if as_json else sys.stdout
    if not as_json:
        print(render(found))
    print(f"\nresults: {out_dir / RESULTS_FILE}", file=stream)
    print(f"limits:  {out_dir / LIMITS_FILE}", file=stream)
    if (out_dir / RESULTS_FILE).is_file():
        print(f"report:  {render_report(out_dir)}", file=stream)


@contextlib.contextmanager
def _results_dir(out_dir: Path) -> Iterator[None]:
    """Make the results directory as ``run`` does (new or empty) for the block.

    Removed again when the searches fail before any run wrote a line, unless the failure's one
    line points into it (a server's start-up log)."""
    from memharness_s3.results.writer import RESULTS_FILE, prepare_out_dir

    created = not out_dir.exists()
    prepare_out_dir(out_dir)
    try:
        yield
    except (UsageError, RunFailed) as exc:
        if created and not (out_dir / RESULTS_FILE).exists() and str(out_dir) not in str(exc):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _plan(args: argparse.Namespace) -> SearchPlan:
    """The settings and searches the arguments ask for; UsageError on anything malformed."""
    from memharness_s3.execution.safe_size_probe import Series
    from memharness_s3.s3.fixture_cache import resolve_fixture_size

    changes: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.key in OWN:
            continue
        given = getattr(args, setting.dest)
        if given is not None and given is not False:
            changes[setting.field] = setting.kind.from_text(setting.option, given)
    if isinstance(changes.get("process"), list):
        raise UsageError("--process: a search takes one processing step; run one search per step")
    defaults = RunSettings(sizes=[], strategies=registry.default_strategies())
    base = dataclasses.replace(defaults, **changes)
    base = with_endpoint(_with_params(base, args.param), args.endpoint_url)
    limits = _list(args.memory_limit, "--memory-limit", Size().check)
    scope_choice = Choice(MEMORY_SCOPES, "memory scope")
    scopes = (
        _list(args.memory_scope, "--memory-scope", scope_choice.check)
        if args.memory_scope is not None
        else [base.scope]
    )
    tries = PositiveInt(MAX_REPEAT).from_text("--tries", args.tries)
    sizes = []
    for option, text in (("--min-size", args.min_size), ("--max-size", args.max_size)):
        try:
            sizes.append(resolve_fixture_size(text)[1])
        except UsageError as exc:
            raise UsageError(f"{option}: {exc}") from None
    min_bytes, max_bytes = sizes
    if min_bytes >= max_bytes:
        raise UsageError(
            f"--min-size {args.min_size} is not below --max-size {args.max_size}: the search "
            "needs a range to bisect"
        )
    series = [
        Series(strategy, workers, limit, scope)
        for limit in limits
        for scope in scopes
        for workers in base.concurrency
        for strategy in base.strategies
    ]
    return SearchPlan(base, series, tries, min_bytes, max_bytes)


def _with_params(settings: RunSettings, given: list[str]) -> RunSettings:
    """``--param`` overrides, each naming a strategy of the search."""
    overrides = registry.parse_param_overrides(given)
    for name in overrides:
        if name not in settings.strategies:
            raise UsageError(f"--param names strategy {name!r}, which is not searched")
    params: dict[str, dict[str, str | list[str]]] = {
        name: dict(overrides.get(name, {})) for name in settings.strategies
    }
    return dataclasses.replace(settings, params=params)


def _list(text: str, option: str, check: Any) -> list[Any]:
    """A comma-separated list of values, each checked, none twice."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError(f"{option} is empty: give at least one")
    if len(items) > MAX_LIST:
        raise UsageError(f"{option} lists {len(items):,} entries; at most {MAX_LIST} are taken")
    values = [check(option, item) for item in items]
    if len(set(values)) < len(values):
        raise UsageError(f"{option} lists the same value twice")
    return values


def _size_named(size_bytes: int) -> tuple[str, int]:
    from memharness_s3.execution.safe_size_probe import fixture_name

    return fixture_name(size_bytes), size_bytes


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _utc_stamp() -> str:
    from memharness_s3.results.writer import utc_stamp

    return utc_stamp()
