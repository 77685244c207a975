"""The ``memharness`` command: ``strategies``, ``fixtures`` and ``run``.

Every failure the user can cause or fix ends in one line on stderr and exit status 2 (bad
usage) or 1 (the run failed); results already written stay on disk.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from fixtures.catalog import DEFAULT_RUN_SIZES, DEFAULT_SEED
from harness.errors import RunFailed, UsageError
from harness.sizes import format_size

PROG = "memharness"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("strategies", help="list registered strategies and their parameters")

    fixtures = commands.add_parser("fixtures", help="generate (if needed) and list PDF fixtures")
    _add_fixture_options(fixtures)

    run = commands.add_parser("run", help="measure strategies fetching PDFs from S3")
    run.add_argument("--matrix", type=Path, help="TOML matrix file (options below override it)")
    run.add_argument(
        "--resume", type=Path, metavar="DIR", help="run only the cases missing from DIR"
    )
    run.add_argument("--strategies", help="comma-separated strategy names (default: all)")
    _add_fixture_options(run)
    run.add_argument(
        "--concurrency", help="worker counts, each its own set of cases (default: 1), e.g. 1,4"
    )
    run.add_argument(
        "--pool", help="processes (default: N worker processes) or threads (N threads in one)"
    )
    run.add_argument(
        "--shared-object",
        action="store_true",
        help="concurrent fetches share one object (default: each gets its own copy)",
    )
    run.add_argument("--memory-limit", help="hard cap per worker, e.g. 512MB (default: none)")
    run.add_argument("--memray", action="store_true", help="record heap attribution with memray")
    run.add_argument("--repeat", type=int, help="run each case this many times (default: 1)")
    run.add_argument("--backend", help="moto (default), s3rver, minio or endpoint")
    run.add_argument(
        "--endpoint-url", help="S3 endpoint URL for --backend endpoint (default: AWS_ENDPOINT_URL)"
    )
    run.add_argument("--textract-endpoint-url", help="Textract endpoint for --backend endpoint")
    run.add_argument("--region", help="region for the clients (default: us-east-1)")
    run.add_argument("--bucket", default="memharness", help="bucket (default: memharness)")
    run.add_argument(
        "--key",
        action="append",
        default=[],
        help="fetch this existing object instead of generated fixtures (repeatable)",
    )
    run.add_argument("--process", help="step after fetching: none (default), pages, split")
    run.add_argument("--split-part-size", help="largest part the split step writes (default 100MB)")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="STRATEGY.NAME=VALUE",
        help="override a strategy parameter, e.g. chunked.chunk_size=16MiB (repeatable)",
    )
    run.add_argument("--timeout", type=float, help="seconds per worker run (default: 900)")
    run.add_argument("--out", type=Path, help="results directory (default: reports/<UTC time>)")
    return parser


def _add_fixture_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        help="comma-separated catalog names (small, medium, large, xlarge) or sizes "
        "(KB/MB/GB decimal, KiB/MiB/GiB binary); default: " + ",".join(DEFAULT_RUN_SIZES),
    )
    parser.add_argument("--seed", default=DEFAULT_SEED, help="fixture generator seed")
    parser.add_argument(
        "--cache-dir", type=Path, help="fixture cache (default: $MEMHARNESS_CACHE or ~/.cache)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "strategies":
            return _strategies()
        if args.command == "fixtures":
            return _fixtures(args)
        from harness.run_command import run_command

        return run_command(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every result finished so far is kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("MEMHARNESS_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(MEMHARNESS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _strategies() -> int:
    from harness.registry import available, load

    for name in available():
        cls = load(name)
        print(f"{name:18} {cls.description}")
        for param, default in cls.params.items():
            print(f"{'':18}   {param} = {default!r}")
    return 0


def fixture_sizes(text: str | None) -> list[tuple[str, int]]:
    """``--sizes`` as (name, bytes) pairs, in the order given."""
    from harness.fixture_cache import resolve_size

    items = [item for item in (text or ",".join(DEFAULT_RUN_SIZES)).split(",") if item.strip()]
    if not items:
        raise UsageError("empty --sizes list")
    return [resolve_size(item) for item in items]


def _fixtures(args: argparse.Namespace) -> int:
    from harness.fixture_cache import cache_root, ensure_fixture

    root = args.cache_dir or cache_root()
    print(f"{'name':8} {'size':>9} {'pages':>6}  {'sha256':12}  {'time':>6}  path")
    for name, size in fixture_sizes(args.sizes):
        started = time.monotonic()
        fixture = ensure_fixture(name, size, args.seed, root)
        elapsed = time.monotonic() - started
        print(
            f"{name:8} {format_size(size):>9} {fixture.pages:>6}  {fixture.sha256[:12]}  "
            f"{elapsed:5.1f}s  {fixture.path}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
