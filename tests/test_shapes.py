"""Each shape the peak can take, fitted to data generated from it, and the safe size it gives."""

from __future__ import annotations

import math
import random

import pytest

from memharness_s3.analysis.shapes import choose, fit_step
from memharness_s3.views.html import fit
from tests.support.results import CAP, MB, run, series_of

SIZES = [10 * MB, 100 * MB, 250 * MB, 500 * MB, 750 * MB, 1000 * MB]


def noisy(rng: random.Random, value: float) -> float:
    return value + rng.uniform(-0.4, 0.4) * MB


@pytest.mark.parametrize("seed", range(5))
def test_constant_data_is_constant(seed: int) -> None:
    rng = random.Random(seed)
    shape, _ = choose([(s, noisy(rng, 69 * MB)) for s in SIZES])
    assert shape.name == "constant"
    assert shape.params[0] == pytest.approx(69 * MB, abs=0.5 * MB)


@pytest.mark.parametrize("seed", range(5))
def test_linear_data_is_linear_with_its_parameters(seed: int) -> None:
    rng = random.Random(seed)
    shape, _ = choose([(s, noisy(rng, 52 * MB + 1.0 * s)) for s in SIZES])
    assert shape.name == "linear"
    intercept, slope = shape.params
    assert slope == pytest.approx(1.0, abs=0.005)
    assert intercept == pytest.approx(52 * MB, abs=2 * MB)


@pytest.mark.parametrize("seed", range(5))
def test_step_data_is_a_step_at_its_place(seed: int) -> None:
    """A queue of parts: the peak grows until the object fills it, then stays."""
    rng = random.Random(seed)
    points = [(s, noisy(rng, 60 * MB if s < 200 * MB else 157 * MB)) for s in SIZES]
    shape, _ = choose(points)
    assert shape.name == "step"
    low, high, below, at = shape.params
    assert (below, at) == (100 * MB, 250 * MB)
    assert low == pytest.approx(60 * MB, abs=MB) and high == pytest.approx(157 * MB, abs=MB)
    assert fit_step(points[:1]) is None


def test_a_flat_step_has_no_limit_and_a_line_a_limit_with_an_interval() -> None:
    step = [run("range", s, 60 * MB if s < 200 * MB else 157 * MB) for s in SIZES]
    safe = fit.safe_size(series_of(step), step, CAP)
    assert (safe.kind, safe.safe_size_bytes) == ("flat", math.inf)
    assert "steps once, from 60 MB to 157 MB between 100 MB and 250 MB" in safe.statement
    line = [run("read-all", s, round(52 * MB + 0.8 * s)) for s in SIZES[:4]]
    safe = fit.safe_size(series_of(line), line, CAP)
    assert safe.kind == "fit" and safe.shape is not None and safe.shape.name == "linear"
    assert safe.safe_size_bytes == pytest.approx((CAP - 52 * MB) / 0.8, rel=1e-3)
    assert safe.interval is not None
    low, high = safe.interval
    assert safe.safe_size_bytes is not None
    assert low < safe.safe_size_bytes < high


def test_a_step_over_the_budget_brackets_the_limit_at_the_step() -> None:
    runs = [run("transfer-manager", s, 70 * MB if s < 400 * MB else 600 * MB) for s in SIZES]
    runs = [r for r in runs if (r.peak_rss_bytes or 0) <= CAP]  # ok runs under the budget only
    runs += [run("transfer-manager", s, 520 * MB) for s in (500 * MB, 750 * MB, 1000 * MB)]
    safe = fit.safe_size(series_of(runs), runs, CAP)
    assert safe.kind == "flat"  # 520 MB is still under the 537 MB budget
    over = [run("transfer-manager", s, 70 * MB) for s in SIZES[:3]]
    over += [run("transfer-manager", s, 560 * MB, status="ok") for s in SIZES[3:]]
    safe = fit.safe_size(series_of(over), over, CAP)
    assert safe.kind == "bracketed"
    assert "between 250 MB (largest ok) and 500 MB (smallest failed)" in safe.statement


def test_one_or_two_sizes_say_what_to_measure_next() -> None:
    one = [run("chunked", 250 * MB, 69 * MB)]
    safe = fit.safe_size(series_of(one), one, CAP)
    assert safe.kind == "unsupported" and "measure 1 GB too" in safe.statement
    same = [run("chunked", 10 * MB, 60 * MB), run("chunked", 250 * MB, 64 * MB)]
    assert fit.safe_size(series_of(same), same, CAP).kind == "flat"
    differ = [run("read-all", 10 * MB, 62 * MB), run("read-all", 100 * MB, 152 * MB)]
    safe = fit.safe_size(series_of(differ), differ, CAP)
    assert safe.kind == "unsupported"
    assert "measure 55 MB and 200 MB to tell them apart" in safe.statement
