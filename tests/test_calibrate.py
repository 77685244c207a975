"""The gate's calibration experiment on synthetic noise with known answers."""

from __future__ import annotations

import random

from memharness_s3.calibrate import INJECTED_MIN_BYTES, inject, rates
from memharness_s3.records import RunResult
from tests.test_case_identity import chunked, repeats

MB = 10**6


def synthetic_run(rng: random.Random, noise_mb: float) -> list[RunResult]:
    """Two cases with 3 repeats: a 69 MB one and a 300 MB one, each peak +- noise_mb."""
    small = [69.0 + rng.uniform(-noise_mb, noise_mb) for _ in range(3)]
    large = [300.0 + rng.uniform(-noise_mb, noise_mb) for _ in range(3)]
    return [*repeats(chunked(), *small), *repeats(chunked(size=10 * MB), *large)]


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
    assert tight.detections == tight.injections == 12
    loose = rates(runs, tolerance=0.10, noise_factor=1.0, setting="10%")
    # +8 MiB on 69 MB is +12 % (caught); +5 % on 300 MB is under a 10 % tolerance (missed).
    assert loose.false_failures == 0
    assert 0 < loose.detections < loose.injections


def test_noise_larger_than_the_tolerance_fails_a_gate_that_ignores_the_spread() -> None:
    runs = [synthetic_run(random.Random(seed), 6.0) for seed in range(6)]
    blind = rates(runs, tolerance=0.01, noise_factor=0.0, setting="1%, spread ignored")
    aware = rates(runs, tolerance=0.01, noise_factor=1.0, setting="1%, spread")
    assert blind.false_failures > 0
    assert aware.false_failures < blind.false_failures
    assert aware.false_failure_rate == aware.false_failures / aware.pairs
