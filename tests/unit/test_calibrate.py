"""The gate's calibration experiment on synthetic noise with known answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from memharness_s3.errors import UsageError
from memharness_s3.experiments.calibrate import INJECTED_MIN_BYTES, inject, rates
from memharness_s3.results import calibration
from tests.support.results import synthetic_run

MB = 10**6


def test_injection_raises_one_case_by_five_percent_or_8_mib() -> None:
    run = synthetic_run(random.Random(1), 0.0)
    small_id, large_id = run[0].case_id, run[3].case_id
    raised = inject(run, small_id)
    assert [r.peak_rss_bytes for r in raised[:3]] == [69 * MB + INJECTED_MIN_BYTES] * 3
    assert raised[3:] == run[3:]
    assert [r.peak_rss_bytes for r in inject(run, large_id)[3:]] == [315 * MB] * 3


def test_without_noise_nothing_fails_and_what_the_tolerance_allows_is_caught() -> None:
    runs = [synthetic_run(random.Random(seed), 0.0) for seed in range(4)]
    tight = rates(runs, tolerance=0.02, noise_factor=1.0, setting="2%")
    assert (tight.pairs, tight.false_failures) == (12, 0)
    assert tight.detections == tight.injections == 24  # every case of every pair, in turn
    loose = rates(runs, tolerance=0.10, noise_factor=1.0, setting="10%")
    # +8 MiB on 69 MB is +12 % (caught); +5 % on 300 MB is under a 10 % tolerance (missed).
    assert loose.false_failures == 0
    assert 0 < loose.detections < loose.injections


def test_noise_larger_than_the_tolerance_fails_a_gate_that_ignores_the_spread() -> None:
    runs = [synthetic_run(random.Random(seed), 6.0) for seed in range(6)]
    blind = rates(runs, tolerance=0.01, noise_factor=0.0, setting="1%, spread ignored")
    aware = rates(runs, tolerance=0.01, noise_factor=3.0, setting="1%, noise of the repeats")
    assert blind.false_failures > 0
    assert aware.false_failures < blind.false_failures
    assert aware.false_failure_rate == aware.false_failures / aware.pairs


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"cases": {}}', "is not a memharness calibration file"),
        ('{"memharness_calibration": 1, "cases": []}', "'cases' must be an object"),
        (
            '{"memharness_calibration": 1, "cases": {"x": {"label": "a", "strategy": "a", '
            '"size_bytes": 1, "runs": 2, "repeats": 3, "sigma_bytes": -1, "spread_bytes": 1}}}',
            "field 'sigma_bytes' must be a number from 0",
        ),
        (
            '{"memharness_calibration": 1, "cases": {"x": {"label": "a", "strategy": "a", '
            '"size_bytes": 1' + "0" * 400 + ', "runs": 2, "repeats": 3, "sigma_bytes": 1, '
            '"spread_bytes": 1}}}',
            "field 'size_bytes' must be a number from 0",
        ),
    ],
)
def test_a_bad_calibration_file_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        calibration.read(path)


def test_a_leave_out_floor_lets_single_repeats_be_compared() -> None:
    """At 1 repeat, no floor: nothing comparable; the other runs' floor: A/A passes, rises fail."""
    runs = [synthetic_run(random.Random(seed), 1.0) for seed in range(5)]
    single = [[r for r in run if r.repeat == 0] for run in runs]
    blind = rates(single, tolerance=0.03, noise_factor=3.0, setting="none")
    assert blind.unresolved_pairs == blind.pairs == 20
    assert blind.false_failures == blind.detections == 0
    floored = rates(
        single, tolerance=0.03, noise_factor=3.0, setting="leave-out", floor="leave-out"
    )
    assert floored.unresolved_pairs == floored.false_failures == 0
    assert floored.detections == floored.injections == 40


def test_the_shipped_calibration_is_a_valid_floor_for_the_default_matrix() -> None:
    """The file the gate falls back on parses, and every case in it was seen in two runs."""
    from importlib import resources

    from memharness_s3.cli.gate import PACKAGED_CALIBRATION

    packaged = resources.files("memharness_s3.fixtures") / PACKAGED_CALIBRATION
    with resources.as_file(packaged) as path:
        floor = calibration.read(path)
    assert floor.cases
    assert all(noise.runs >= 2 and noise.repeats >= 3 for noise in floor.cases.values())
    assert {noise.strategy for noise in floor.cases.values()} >= {"chunked", "transfer-manager"}
