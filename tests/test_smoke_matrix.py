"""What users run, end to end: every built-in strategy, on moto and on s3rver, local and Celery.

Each combination is one ``memharness run`` as a user types it (the installed command in a
subprocess, the backend launched by the harness, Celery nodes and redis-server started by it),
over two objects, one below and one above the harness's upload part size (so one object is
uploaded in parts and carries a composite checksum, and its copies for concurrent workers are
server-side copies of a multipart object), at concurrency 1 and 2. Every run must end ``ok``
and verified (textract-direct downloads nothing, so it has nothing to verify). moto 5.2 once
made every concurrent run above one part fail its checksum here; a change of that kind in any
of boto3, botocore, s3transfer, moto or celery shows up as a failing case of this module (``nox
-s latest`` runs it against their newest releases).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memharness_s3.config import registry
from memharness_s3.s3.objects import UPLOAD_CONFIG

pytestmark = pytest.mark.integration

PART_BYTES = UPLOAD_CONFIG.multipart_chunksize
SIZES = (8 * 10**6, 70 * 10**6)
"""One object in a single upload part, one in two parts."""
DOWNLOADS_NOTHING = {"textract-direct"}


def _installed_strategies() -> list[str]:
    """Every built-in strategy that loads (the ``clients`` extra's libraries may be missing, as
    in ``nox -s latest``); plug-ins from other distributions are not this module's."""
    entries = registry.registered()
    return [
        name
        for name in registry.available()
        if entries[name].target.startswith("memharness_s3.strategies.")
    ]


def test_the_sizes_straddle_the_upload_part_size() -> None:
    assert SIZES[0] < PART_BYTES < SIZES[1] < 2 * PART_BYTES


@pytest.mark.parametrize("executor", ["local", "celery"])
@pytest.mark.parametrize("backend", ["moto", "s3rver"])
def test_every_strategy_fetches_and_verifies(
    backend: str, executor: str, cache_dir: Path, tmp_path: Path
) -> None:
    if executor == "celery" and shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server (apt-get install redis-server)")
    strategies = _installed_strategies()
    out = tmp_path / "results"
    argv = [
        *(sys.executable, "-m", "memharness_s3.cli", "run"),
        *("--backend", backend, "--executor", executor),
        *("--strategies", ",".join(strategies)),
        *("--sizes", ",".join(f"{size}B" for size in SIZES)),
        *("--concurrency", "1,2"),
        *("--cache-dir", str(cache_dir), "--out", str(out)),
    ]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    # Every strategy x size x concurrency, one line per worker (1 + 2).
    assert len(lines) == len(strategies) * len(SIZES) * 3
    not_ok = [
        f"{line['strategy']} {line['size_bytes']}B x{line['concurrency']} worker {line['worker']}: "
        f"{line['status']} {line['error_type']}: {line['error']}"
        for line in lines
        if line["status"] != "ok"
    ]
    assert not not_ok, "\n".join(not_ok)
    unverified = [
        f"{line['strategy']} {line['size_bytes']}B x{line['concurrency']} worker {line['worker']}"
        for line in lines
        if line["strategy"] not in DOWNLOADS_NOTHING and line["verified"] is not True
    ]
    assert not unverified, unverified
    left = [line["strategy"] for line in lines if line["temp_files_left"] != 0]
    assert not left, f"temp files left behind by {left}"
    assert {line["executor"] for line in lines} == {executor}
    assert {line["backend"] for line in lines} == {backend}
