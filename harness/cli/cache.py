"""``memharness cache [clear [PART ...]]``: what the cache holds, and clearing it.

The cache keeps what a second session would otherwise make again: generated fixtures (up to
several GB each), the objects a launched s3rver stored (so a second session uploads nothing),
the s3rver npm install and crash logs. Nothing in it is a result; every part is remade when
needed. A server data directory a running session holds is left, and named.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memharness_s3.config.sizes import format_size
from memharness_s3.errors import EXIT_FAILED, UsageError
from memharness_s3.s3.cache_contents import DESCRIPTIONS, PARTS, clear, survey
from memharness_s3.s3.fixture_cache import cache_root

NAME = "cache"
HELP = "list what the cache holds (fixtures, s3rver data, npm s3rver), or clear it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", choices=("list", "clear"), default="list", help="default: list"
    )
    parser.add_argument(
        "parts",
        nargs="*",
        metavar="PART",
        help=f"what to clear: {', '.join(PARTS)} (default: all of them)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="the cache (default: $MEMHARNESS_CACHE or ~/.cache/memharness)",
    )


def run(args: argparse.Namespace) -> int:
    root: Path = args.cache_dir or cache_root()
    if args.action == "list":
        if args.parts:
            raise UsageError("cache list takes no PART; `memharness cache clear PART` clears one")
        return _list(root)
    unknown = [part for part in args.parts if part not in PARTS]
    if unknown:
        raise UsageError(f"no cache part {unknown[0]!r}: choose from {', '.join(PARTS)}")
    chosen = tuple(part for part in PARTS if part in args.parts) if args.parts else PARTS
    left = False
    for item in clear(root, chosen):
        print(f"{item.name:9} freed {format_size(item.size_bytes):>9} ({item.files:,} files)")
        for name in item.left:
            left = True
            print(f"{'':9} left {name}: a running memharness session holds it (or it is read-only)")
    return EXIT_FAILED if left else 0


def _list(root: Path) -> int:
    print(f"cache {root}")
    total = 0
    for part in survey(root):
        total += part.size_bytes
        busy = f"; in use: {', '.join(part.in_use)}" if part.in_use else ""
        print(
            f"{part.name:9} {format_size(part.size_bytes):>9} {part.files:>7,} files  "
            f"{DESCRIPTIONS[part.name]}{busy}"
        )
    print(f"{'total':9} {format_size(total):>9}  (`memharness cache clear [PART ...]` frees it)")
    return 0
