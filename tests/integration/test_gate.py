"""The CI gate on synthetic results: budget, expected failures, baseline medians and noise."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from memharness_s3.cli import gate as gate_cmd
from memharness_s3.model.records import RunResult
from tests.support.cli import MEMHARNESS
from tests.support.results import MB, calibration_file, make_case, runs, scaled, write

READ_ALL_OOM = {
    "strategy": "read-all",
    "min_size_bytes": 500 * MB,
    "status": "oom",
    "reason": "read-all holds the whole object",
}


def seed_like() -> list[RunResult]:
    """A small matrix like the seed one: two strategies, two sizes, concurrency 1 and 4."""
    return [
        *runs(make_case("chunked", 250 * MB), [[69.0]]),
        *runs(make_case("chunked", 250 * MB, 4), [[69.1, 69.0, 69.2, 69.1]]),
        *runs(make_case("range", 250 * MB), [[157.4]]),
        *runs(make_case("read-all", 250 * MB), [[302.4]]),
        *runs(make_case("read-all", 750 * MB), [[547.7]], status="oom"),
    ]


# ---------------------------------------------------------------------------------------------
# The command module, through a parser built from its add_arguments


def gate(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="memharness gate")
    gate_cmd.add_arguments(parser)
    return gate_cmd.run(parser.parse_args(argv))


def _memharness(*argv: str) -> subprocess.CompletedProcess[str]:
    """``memharness`` as users run it."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [*MEMHARNESS, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_exit_codes_through_the_cli(tmp_path: Path) -> None:
    old = write(tmp_path / "old", seed_like(), expect=[READ_ALL_OOM])
    new = write(
        tmp_path / "new", scaled(seed_like(), make_case("range"), 1.2), expect=[READ_ALL_OOM]
    )
    same = write(tmp_path / "same", seed_like(), expect=[READ_ALL_OOM])
    for baseline in (old, same):
        calibration_file(baseline / "calibration.json", seed_like())
    passed = _memharness("gate", str(old), "--budget", "512MiB", "--baseline", str(same))
    assert passed.returncode == 0, passed.stderr
    failed = _memharness("gate", str(new), "--budget", "512MiB", "--baseline", str(old))
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.startswith("FAIL range 250MB x1")
    bad = _memharness("gate", str(old), "--budget", "lots")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "memharness: error: --budget: malformed size 'lots': expected a positive number with an "
        "optional unit (B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary), e.g. 250MB or 8MiB"
    ]
