"""The results directory: ``results.jsonl`` (one line per worker run), ``meta.json``, timelines.

Each line is written whole, flushed and fsynced as its run ends, so an interrupted or killed
harness keeps every run it finished and never leaves a half-written line.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

from memharness_s3.errors import UsageError
from memharness_s3.model.records import RunResult, to_json
from memharness_s3.paths import find_symlink, make_writable_dir, write_no_follow

RESULTS_FILE = "results.jsonl"
META_FILE = "meta.json"
TIMELINES_DIR = "timelines"


def utc_stamp() -> str:
    """A UTC timestamp that sorts and is safe in a directory name."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def prepare_out_dir(out_dir: Path, resume: bool = False) -> Path:
    """Create the output directory and check that it is writable.

    A new run writes only into a new or empty directory, so it never appends to another run's
    results or overwrites files it did not write; a resumed one only into a results directory
    with no symbolic link in it (the harness would write through it). UsageError otherwise.
    """
    if resume:
        if not (out_dir / META_FILE).is_file():
            raise UsageError(f"nothing to resume: no {META_FILE} in {out_dir}")
        if (link := find_symlink(out_dir)) is not None:
            raise UsageError(
                f"refusing to resume into {out_dir}: {link} is a symbolic link, and memharness "
                "never writes through one"
            )
    elif out_dir.is_symlink() or out_dir.exists():
        if not out_dir.is_dir():
            raise UsageError(f"output directory {out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            hint = (
                f"; to run the cases it is missing, give --resume {out_dir}"
                if (out_dir / META_FILE).is_file()
                else ""
            )
            raise UsageError(
                f"output directory {out_dir} is not empty: a run writes only into a new or "
                f"empty directory{hint}"
            )
    return make_writable_dir(out_dir, "output directory")


class ResultsWriter:
    """Appends run results to ``results.jsonl`` durably, one whole line at a time."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.path = out_dir / RESULTS_FILE

    def append(self, result: RunResult) -> None:
        line = (to_json(result) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_timeline(self, run_id: str, timeline: list[tuple[float, int]]) -> str:
        """Store a run's RSS timeline as CSV; return its path relative to the results dir."""
        path = self.artifact_path(TIMELINES_DIR, f"{run_id}.csv")
        rows = "".join(f"{t},{rss}\n" for t, rss in timeline)
        write_no_follow(path, "t_s,rss_bytes\n" + rows)
        return str(path.relative_to(self.out_dir))

    def artifact_path(self, folder: str, name: str) -> Path:
        """A path for a per-run artifact in a sub-folder of the results dir (created)."""
        (self.out_dir / folder).mkdir(exist_ok=True)
        return self.out_dir / folder / name


def write_meta(
    out_dir: Path, backend: str, endpoint_url: str | None, extra: dict[str, Any]
) -> None:
    """Describe the environment the results were measured in."""
    meta = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "backend": backend,
        "endpoint_url": endpoint_url,
        "cpu_count": os.cpu_count(),
        "total_memory_bytes": psutil.virtual_memory().total,
        **extra,
    }
    # never over a file: the directory was new or empty (prepare_out_dir)
    write_no_follow(
        out_dir / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n", lambda _: False
    )


_PACKAGES = ("memharness-s3", "boto3", "botocore", "s3transfer", "moto", "pymupdf", "psutil")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
