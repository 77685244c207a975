"""Interrupted runs keep every finished result, leave no process behind, and resume exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.support.services import EVENT_BOUND_S, wait_until

pytestmark = pytest.mark.integration

RUN = [
    "run",
    "--sizes",
    "3MB",
    "--strategies",
    "read-all,chunked,range,transfer-manager",
    "--repeat",
    "2",
]


def _start(
    out: Path, cache: Path, sigint: signal.Handlers = signal.SIG_DFL
) -> subprocess.Popen[str]:
    """The harness, started with SIGINT at ``sigint`` whatever this process inherited.

    A shell started from a script sets SIGINT to ignored in the jobs it puts in the background
    (``pytest &``), and an ignored signal stays ignored across exec: without this, a harness
    under such a pytest would never see the Ctrl-C the test sends.
    """
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memharness_s3.cli",
            *RUN,
            "--out",
            str(out),
            "--cache-dir",
            str(cache),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )


def _lines(out: Path) -> list[dict[str, object]]:
    path = out / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _interrupt_after_two_runs(
    proc: subprocess.Popen[str], out: Path, sig: signal.Signals
) -> list[psutil.Process]:
    """Wait until two runs are on disk, note the harness's children, then send ``sig``."""

    def running() -> None:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""

    wait_until(lambda: len(_lines(out)) >= 2, "two runs on disk", running)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "expected a server and a worker to be running"
    proc.send_signal(sig)
    proc.wait(timeout=EVENT_BOUND_S)
    return children


def _assert_all_gone(children: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(children, timeout=EVENT_BOUND_S)
    for child in alive:
        child.kill()
    assert not alive, f"processes outlived the harness: {[c.cmdline() for c in alive]}"


def test_kill_9_keeps_whole_lines_leaves_no_orphans_and_resume_completes(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = _start(out, cache)
    children = _interrupt_after_two_runs(proc, out, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    _assert_all_gone(children)
    raw = (out / "results.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    before = _lines(out)
    assert 2 <= len(before) < 8

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "memharness_s3.cli",
            "run",
            "--resume",
            str(out),
            "--cache-dir",
            str(cache),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    after = _lines(out)
    assert after[: len(before)] == before
    runs = [(line["case_id"], line["repeat"]) for line in after]
    assert len(runs) == len(set(runs)) == 8
    assert all(line["status"] == "ok" for line in after)
    assert f"resuming: {len(before)} runs already" in resumed.stderr
    assert not list(Path(tempfile.gettempdir()).glob(f"memharness-{proc.pid}-*"))


@pytest.mark.parametrize(
    ("sigint", "sig"),
    [
        (signal.SIG_DFL, signal.SIGINT),  # Ctrl-C in a terminal
        # Started in the background from a script: SIGINT is ignored, as the shell asked, and
        # SIGTERM (``kill PID``) stops the run the same way.
        (signal.SIG_IGN, signal.SIGTERM),
    ],
    ids=["ctrl-c", "sigterm-in-the-background"],
)
def test_ctrl_c_exits_130_keeps_results_and_stops_everything(
    sigint: signal.Handlers, sig: signal.Signals, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = _start(out, tmp_path / "cache", sigint)
    children = _interrupt_after_two_runs(proc, out, sig)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    _assert_all_gone(children)
    assert len(_lines(out)) >= 2


def test_resume_of_a_directory_without_meta_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "memharness_s3.cli", "run", "--resume", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "nothing to resume" in done.stderr


def test_resume_refuses_plan_options(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "memharness_s3.cli",
            "run",
            "--resume",
            str(tmp_path),
            "--sizes",
            "1MB",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--sizes" in done.stderr
    assert os.listdir(tmp_path) == []
