"""What the cache holds, and clearing it: generated fixtures, servers' kept data directories,
the s3rver installed with npm and crash logs.

A server's data directory that a running session holds (its ``flock``, ``data_cache``) is never
touched: clearing takes that lock first and leaves the directory when it cannot, and leaves the
npm-installed s3rver too, which that session's server runs from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from memharness_s3.paths import tree_size
from memharness_s3.s3.backends import data_cache

FIXTURES = "fixtures"
SERVERS = data_cache.SERVERS_DIR
NODE = "node"
CRASHES = "crashes"
PARTS = (FIXTURES, SERVERS, NODE, CRASHES)
"""What the cache holds, in the order it is listed and cleared."""
DESCRIPTIONS = {
    FIXTURES: "generated PDF fixtures and their manifests",
    SERVERS: "objects a launched s3rver kept between sessions",
    NODE: "s3rver installed with npm",
    CRASHES: "tracebacks of internal errors",
}


@dataclass(frozen=True)
class PartUsage:
    """One part of the cache: where it is, the files and bytes it holds, and the server data
    directories in it that a running session holds (their names)."""

    name: str
    path: Path
    files: int
    size_bytes: int
    in_use: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cleared:
    """What clearing one part freed, and what it left because a running session holds it."""

    name: str
    files: int
    size_bytes: int
    left: tuple[str, ...] = ()


def survey(root: Path) -> list[PartUsage]:
    """Every part of the cache under ``root`` with its files and bytes (zero where absent)."""
    servers_in_use = _servers_in_use(root)
    usage = []
    for name in PARTS:
        files, size = tree_size(root / name)
        in_use = servers_in_use if name == SERVERS else ()
        usage.append(PartUsage(name, root / name, files, size, in_use))
    return usage


def clear(root: Path, parts: tuple[str, ...]) -> list[Cleared]:
    """Remove the given parts of the cache under ``root``; what each freed and left."""
    cleared = []
    busy = _servers_in_use(root)
    for name in parts:
        if name == SERVERS:
            cleared.append(_clear_servers(root))
        elif name == NODE and busy:
            files, size = tree_size(root / NODE)
            cleared.append(Cleared(name, 0, 0, left=(f"{NODE} ({size:,} bytes)",) if files else ()))
        else:
            files, size = tree_size(root / name)
            shutil.rmtree(root / name, ignore_errors=True)
            remaining_files, remaining = tree_size(root / name)
            cleared.append(Cleared(name, files - remaining_files, size - remaining))
    return cleared


def _clear_servers(root: Path) -> Cleared:
    """Each server's data directory and read-back ledger, under its lock; the lock file stays
    (removing it under a holder would let a second session lock a new file beside it)."""
    freed_files = freed_bytes = 0
    left = []
    for key in _server_keys(root):
        held = data_cache.claim(root, key)
        if held is None:
            left.append(key)
            continue
        try:
            files, size = tree_size(held.path)
            shutil.rmtree(held.path, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                size += held.ledger_path.stat().st_size
                files += 1
                held.ledger_path.unlink()
            remaining_files, remaining = tree_size(held.path)
            freed_files += files - remaining_files
            freed_bytes += size - remaining
        finally:
            held.release()
    return Cleared(SERVERS, freed_files, freed_bytes, tuple(left))


def _servers_in_use(root: Path) -> tuple[str, ...]:
    """The server data directories a running session holds now (it keeps their lock)."""
    busy = []
    for key in _server_keys(root):
        held = data_cache.claim(root, key)
        if held is None:
            busy.append(key)
        else:
            held.release()
    return tuple(busy)


def _server_keys(root: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in os.scandir(root / SERVERS) if entry.is_dir())
    except OSError:
        return []
