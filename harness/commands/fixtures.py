"""``memharness fixtures``: generate (when not cached) and list PDF fixtures."""

from __future__ import annotations

import argparse
import time

from memharness_s3.cli.options import add_fixture_options
from memharness_s3.config.sizes import format_size
from memharness_s3.s3.fixture_cache import cache_root, ensure_fixture, resolve_sizes

NAME = "fixtures"
HELP = "generate (if needed) and list PDF fixtures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_fixture_options(parser)


def run(args: argparse.Namespace) -> int:
    root = args.cache_dir or cache_root()
    sizes = resolve_sizes(args.sizes)
    print(f"{'name':8} {'size':>9} {'pages':>6}  {'sha256':12}  {'time':>6}  path")
    for name, size in sizes:
        started = time.monotonic()
        fixture = ensure_fixture(name, size, args.seed, root)
        elapsed = time.monotonic() - started
        print(
            f"{name:8} {format_size(size):>9} {fixture.pages:>6}  {fixture.sha256[:12]}  "
            f"{elapsed:5.1f}s  {fixture.path}"
        )
    return 0
