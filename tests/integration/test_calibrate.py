"""The gate's calibration experiment on synthetic noise with known answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from memharness_s3.cli import main
from memharness_s3.results import calibration
from tests.support.results import synthetic_run, write

MB = 10**6


def test_calibrate_command_writes_a_floor_the_gate_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for index in range(4):
        write(tmp_path / "runs" / f"run-{index:02d}", synthetic_run(random.Random(index), 2.0))
    output = tmp_path / "calibration.json"
    assert main(["calibrate", str(tmp_path / "runs"), "-o", str(output)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {output}: 2 cases from 4 runs" in printed
    floor = calibration.read(output)
    assert len(floor.cases) == 2
    assert all(noise.runs == 4 and noise.repeats == 12 for noise in floor.cases.values())
    assert all(0 < noise.sigma_bytes <= noise.spread_bytes for noise in floor.cases.values())

    new = write(tmp_path / "new", synthetic_run(random.Random(9), 0.0)[:1])
    old = write(tmp_path / "old", synthetic_run(random.Random(8), 0.0)[:1])
    argv = ["gate", str(new), "--budget", "512MiB", "--baseline", str(old)]
    assert main([*argv, "--calibration", str(output)]) == 0
    assert "detects rises above" in capsys.readouterr().out


def test_calibrate_needs_two_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "run-00", synthetic_run(random.Random(1), 1.0))
    assert main(["calibrate", str(tmp_path / "run-00")]) == 2
    assert capsys.readouterr().err == (
        "memharness: error: calibrate needs at least two results directories of the same "
        "code, got 1\n"
    )
