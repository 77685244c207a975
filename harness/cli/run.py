"""``memharness run``: settle the settings, hand them to a session, show the table.

Settings come from the command line, or from a matrix file (``--matrix``) with command-line
options overriding it, or, with ``--resume DIR``, from ``DIR/meta.json``. Their flags are derived
from the one settings table (``memharness_s3.config.settings``). Everything is validated before
anything
is started; this module only parses, calls the session and prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memharness_s3 import LOADED_AT
from memharness_s3.cli.options import (
    add_fixture_options,
    add_param_option,
    add_setting_flag,
    add_target_options,
    with_endpoint,
)
from memharness_s3.config import registry
from memharness_s3.config.settings import SETTINGS, RunSettings, default_settings, from_meta
from memharness_s3.errors import UsageError

if TYPE_CHECKING:
    from memharness_s3.execution.session import Session

NAME = "run"
HELP = "measure strategies fetching PDFs from S3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matrix", type=Path, help="TOML matrix file (options below override it)")
    parser.add_argument(
        "--resume", type=Path, metavar="DIR", help="run only the cases missing from DIR"
    )
    add_fixture_options(parser)
    for setting in SETTINGS:
        if setting.key == "sizes":  # added with the fixture options, shared with `fixtures`
            continue
        add_setting_flag(parser, setting, setting.help)
    add_param_option(parser)
    add_target_options(parser)
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help="fetch this existing object instead of generated fixtures (repeatable)",
    )
    parser.add_argument("--out", type=Path, help="results directory (default: reports/<UTC time>)")


def run(args: argparse.Namespace) -> int:
    """Validate everything first, then measure; exit 0 when every run ended ok or oom, or as
    an expectation of the run expects (a regression corpus's expected errors). A run the backend
    broke (``infra``) counts by its re-run; one never re-run ok fails the run."""
    if args.resume is not None:
        settings, out_dir, keys, bucket = _resume_settings(args)
    else:
        settings, keys, bucket = _settings(args), list(args.key), args.bucket
        out_dir = args.out or Path("reports") / _utc_stamp()
    settings = with_endpoint(settings, args.endpoint_url)
    from memharness_s3.execution.session import Session, Target, executor_for

    target = Target(
        endpoint_url=args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        textract_endpoint_url=args.textract_endpoint_url,
        region=args.region,
        bucket=bucket,
        keys=keys,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    broker = args.broker or os.environ.get("MEMHARNESS_BROKER_URL")
    if broker and settings.executor != "celery":
        raise UsageError("--broker is for --executor celery")
    executor = executor_for(settings, broker)
    session = Session(settings, target, out_dir, executor=executor, resume=args.resume is not None)
    results = session.run()
    _show(results, out_dir, settings, session)
    from memharness_s3.analysis.reruns import settled

    counted = settled(results)
    return 0 if all(r.status in ("ok", "oom") or _expected(r, settings) for r in counted) else 1


def _expected(result: Any, settings: RunSettings) -> bool:
    return any(
        e.status == result.status
        and e.covers(
            result.strategy, result.size_bytes, result.params, result.process, result.fault
        )
        for e in settings.expect
    )


def _utc_stamp() -> str:
    from memharness_s3.results.writer import utc_stamp

    return utc_stamp()


def _show(results: list[Any], out_dir: Path, settings: RunSettings, session: Session) -> None:
    from memharness_s3.execution.phases import REPORT
    from memharness_s3.results.writer import RESULTS_FILE
    from memharness_s3.views.html.page import render_report
    from memharness_s3.views.summary import render_summary
    from memharness_s3.views.table import render

    print(render(results))
    if settings.repeat > 1 or any(r.concurrency > 1 for r in results):
        print("\n" + render_summary(results))
    print(f"\nresults: {out_dir / RESULTS_FILE}")
    if results:
        with session.clock.phase(REPORT):
            report = render_report(out_dir)
        print(f"report:  {report}")
    session.record_phases()
    print(_time_spent(session))


def _time_spent(session: Session) -> str:
    """One line: the share of this command's wall time that measured fetches took, and where
    the rest went (the phases meta.json records)."""
    wall_s = time.monotonic() - LOADED_AT
    measured_s = session.measured_fetch_s or 0.0
    others = sorted(session.clock.seconds.items(), key=lambda item: -item[1])
    spent = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in others if seconds >= 0.05)
    return (
        f"time:    measured fetches {measured_s:.1f} s of {wall_s:.1f} s wall "
        f"({measured_s / wall_s:.2f}); {spent}"
    )


def _settings(args: argparse.Namespace) -> RunSettings:
    """The matrix file's settings (or the defaults) with explicit command-line options on top."""
    if args.key and args.sizes is not None:
        raise UsageError("--key fetches existing objects; it cannot be combined with --sizes")
    changes: dict[str, Any] = {}
    for setting in SETTINGS:
        given = getattr(args, setting.dest)
        if given is not None and given is not False:
            changes[setting.field] = setting.kind.from_text(setting.option, given)
    overrides = registry.parse_param_overrides(args.param)
    if args.matrix is not None:
        from memharness_s3.config.matrix import load_matrix

        base = load_matrix(args.matrix)
    else:
        base = default_settings(with_sizes=not args.key)
    if args.key:
        changes["sizes"] = []
    settings = dataclasses.replace(base, **changes)
    for name in overrides:
        if name not in settings.strategies:
            raise UsageError(f"--param names strategy {name!r}, which is not in this run")
    merged = {
        name: {**settings.params.get(name, {}), **overrides.get(name, {})}
        for name in settings.strategies
    }
    return dataclasses.replace(settings, params=merged)


def _resume_settings(args: argparse.Namespace) -> tuple[RunSettings, Path, list[str], str]:
    """The settings, directory, keys and bucket of the run being resumed."""
    from memharness_s3.results.loader import load_meta
    from memharness_s3.results.writer import META_FILE

    plan_options = [s.dest for s in SETTINGS] + ["param", "matrix", "key"]
    given = [name for name in plan_options if getattr(args, name) not in (None, False, [])]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(f"--resume takes its settings from {META_FILE}; drop {flags}")
    out_dir: Path = args.resume
    if not (out_dir / META_FILE).is_file():
        raise UsageError(f"nothing to resume: no {META_FILE} in {out_dir}")
    meta = load_meta(out_dir)
    try:
        settings = from_meta(meta.settings)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{out_dir / META_FILE} is not a memharness meta file ({exc})") from None
    return settings, out_dir, list(meta.raw.get("keys", [])), meta.raw.get("bucket", args.bucket)
