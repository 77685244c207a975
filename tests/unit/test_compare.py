"""History: change points in a series with known steps, and ``memharness compare``'s verdict."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest

from memharness_s3.analysis.changes import MIN_STEP_BYTES, change_points, last_run_steps_up
from memharness_s3.cli import compare as compare_cmd
from memharness_s3.errors import UsageError
from tests.support.results import MB, chunked, repeats, write

MIB = 2**20


def test_a_known_step_is_found_where_it_is() -> None:
    levels = [69.0 * MB] * 6 + [187.0 * MB] * 4
    (step,) = change_points(levels)
    assert (step.index, step.before, step.after, step.upwards) == (6, 69.0 * MB, 187.0 * MB, True)


def test_two_steps_and_their_levels() -> None:
    levels = [100.0 * MB] * 4 + [150.0 * MB] * 4 + [110.0 * MB] * 4
    steps = change_points(levels)
    assert [(s.index, s.before / MB, s.after / MB) for s in steps] == [
        (4, 100.0, 150.0),
        (8, 150.0, 110.0),
    ]


def test_noise_within_the_repeats_spread_is_no_step() -> None:
    rng = random.Random(7)
    levels = [100 * MB + rng.uniform(-6, 6) * MB for _ in range(20)]
    assert change_points(levels, spreads=[12.0 * MB] * 20) == []
    # The same wobble with no repeats to show it: only steps above the 8 MiB floor count.
    assert all(abs(s.after - s.before) > MIN_STEP_BYTES for s in change_points(levels))


def test_one_odd_run_in_the_middle_is_not_a_step_but_a_last_one_is() -> None:
    assert change_points([69.0 * MB] * 3 + [130.0 * MB] + [69.0 * MB] * 3) == []
    step = last_run_steps_up([69.0 * MB] * 6 + [90.0 * MB])
    assert step is not None and step.index == 6
    assert last_run_steps_up([69.0 * MB] * 6 + [50.0 * MB]) is None  # a step down is good news


def compare(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    compare_cmd.add_arguments(parser)
    return compare_cmd.run(parser.parse_args(argv))


def test_compare_exits_1_when_the_last_run_steps_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [
        write(tmp_path / f"run{index}", repeats(chunked(), peak, peak + 0.1, peak - 0.1))
        for index, peak in enumerate([69.0, 69.2, 68.9, 69.1])
    ]
    assert compare(*map(str, dirs)) == 0
    assert "PASS: no case steps upwards in the last run (run3)" in capsys.readouterr().out
    bad = write(tmp_path / "run4", repeats(chunked(chunk=64 * MIB), 186.6, 186.7, 186.5))
    html = tmp_path / "history.html"
    assert compare(*map(str, [*dirs, bad]), "--html", str(html)) == 1
    out = capsys.readouterr().out
    assert "at run4: 69.0 -> 186.6 MB" in out or "at run4: 69.1 -> 186.6 MB" in out
    assert "FAIL: the last run (run4) starts a new step upwards in chunked 250MB x1" in out
    page = html.read_text()
    assert page.startswith("<!doctype html>") and '<svg class="chart"' in page


def test_compare_needs_two_runs_with_a_case_in_common(tmp_path: Path) -> None:
    one = write(tmp_path / "one", repeats(chunked(), 69.0))
    with pytest.raises(UsageError, match="at least two"):
        compare(str(one))
    other = write(tmp_path / "other", repeats(chunked(size=10 * MB), 60.0))
    with pytest.raises(UsageError, match="no case ran in two or more"):
        compare(str(one), str(other))
