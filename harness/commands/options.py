"""Options more than one subcommand takes."""

from __future__ import annotations

import argparse
from pathlib import Path

from memharness_s3.fixtures.catalog import DEFAULT_RUN_SIZES, DEFAULT_SEED


def add_fixture_options(parser: argparse.ArgumentParser) -> None:
    """``--sizes``, ``--seed`` and ``--cache-dir``."""
    parser.add_argument(
        "--sizes",
        help="comma-separated catalog names (small, medium, large, xlarge) or sizes "
        "(KB/MB/GB decimal, KiB/MiB/GiB binary); default: " + ",".join(DEFAULT_RUN_SIZES),
    )
    parser.add_argument("--seed", default=DEFAULT_SEED, help="fixture generator seed")
    parser.add_argument(
        "--cache-dir", type=Path, help="fixture cache (default: $MEMHARNESS_CACHE or ~/.cache)"
    )
