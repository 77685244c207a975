"""A command's wall time starts when it loads memharness, not when its process was forked."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from memharness_s3.cli import run as run_cmd


def test_a_process_a_shell_execs_late_counts_its_wall_from_loading_memharness() -> None:
    """``bash -c "install && memharness run"`` execs the last command in the shell's own
    process, forked before the install: the wall time must not include the install."""
    probe = "import time, memharness_s3; print(time.monotonic() - memharness_s3.LOADED_AT)"
    line = f"sleep 3; exec {shlex.quote(sys.executable)} -c {shlex.quote(probe)}"
    found = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True)
    assert 0 <= float(found.stdout) < 2.5  # the 3 s before the exec are not counted


def test_the_time_line_divides_the_measured_fetches_by_the_wall_since_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_cmd, "LOADED_AT", time.monotonic() - 40.0)
    session = SimpleNamespace(
        measured_fetch_s=10.0, clock=SimpleNamespace(seconds={"upload/copies": 12.0})
    )
    line = run_cmd._time_spent(cast(Any, session))
    assert line.startswith("time:    measured fetches 10.0 s of 40.0 s wall (0.25);")
    assert "upload/copies 12.0 s" in line
