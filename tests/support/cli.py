"""The ``memharness`` command run as a user runs it: a subprocess, its exit code, its one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from memharness_s3.cli import gate as gate_cmd
from memharness_s3.s3.backends import Backend

FAKE_SECRET = "memharness-FAKE-secret-0123456789abcdef"


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": FAKE_SECRET}


MEMHARNESS = [sys.executable, "-m", "memharness_s3.cli"]
"""The command line of ``memharness`` in this interpreter (for a Popen the test drives itself)."""


def memharness(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEMHARNESS, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    return lines[-1]


def endpoint_run(
    backend: Backend, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``memharness run --backend endpoint`` against ``backend`` with fake credentials."""
    out = tmp_path / "out"
    proc = memharness(
        "run",
        "--backend",
        "endpoint",
        "--endpoint-url",
        str(backend.endpoint_url),
        "--out",
        str(out),
        *args,
        cwd=tmp_path,
        env=CREDENTIALS,
    )
    return proc, out


def gate(*argv: str) -> int:
    """``memharness gate ARGV`` in this process: its exit status (output to stdout)."""
    parser = argparse.ArgumentParser(prog="memharness gate")
    gate_cmd.add_arguments(parser)
    return gate_cmd.run(parser.parse_args(argv))
