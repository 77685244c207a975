"""Directories the harness writes to, checked up front so a bad one is one clear line."""

from __future__ import annotations

from pathlib import Path

from memharness_s3.errors import RunFailed

TEMP_PREFIX = "memharness-"
"""Temp dirs of strategies and nodes are ``memharness-PID-...``: those of a process that no
longer exists are swept by the next run (``runner.sweep_stale_temp_dirs``)."""


def make_writable_dir(path: Path, what: str, hint: str = "") -> Path:
    """Create ``path`` if needed and prove it writable; raise RunFailed naming ``what``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunFailed(f"{what} {path} is not writable ({exc.strerror}){hint}") from None
    return path


def count_files(folder: Path) -> tuple[int, int]:
    """How many files are under ``folder``, and their bytes (what a strategy left behind)."""
    count = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            count += 1
            total += path.stat().st_size
    return count, total
