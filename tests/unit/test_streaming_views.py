"""Views that read results in one pass (issue 19, point 3): ``compare`` keeps each case's ok
peaks, never its results, and keys are made once per case, not once per line."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.identity import ResultKeys, key_of_result
from memharness_s3.cli.compare import Level, _levels_of
from memharness_s3.paused_gc import paused_gc
from memharness_s3.results.loader import load
from tests.support.results import make_case, runs, seed_like, write


def results_dir(path: Path) -> Path:
    tuned = dataclasses.replace(make_case("chunked"), params={"chunk_size": 8 * 2**20})
    return write(
        path,
        [
            *seed_like(),
            *runs(tuned, [[69.0, 71.0], [70.0, 75.0]]),
            *runs(make_case("range", 750 * 10**6), [[300.0]], status="error"),
        ],
    )


def test_compare_reads_each_case_as_the_analysis_does(tmp_path: Path) -> None:
    folder = results_dir(tmp_path / "r")
    expected = {
        case.key: Level(case.key, case.median_peak, float(case.spread) if case.ok_peaks else None)
        for case in Analysis(load(folder).results).cases
    }
    levels = _levels_of(folder)
    assert {level.key: level for level in levels} == expected
    assert len(levels) == len(expected)
    assert any(level.median_peak is None for level in levels)


def test_result_keys_are_the_keys_of_the_results_one_object_per_case(tmp_path: Path) -> None:
    results = load(results_dir(tmp_path / "r")).results
    keys = ResultKeys()
    made = [keys(result) for result in results]
    assert made == [key_of_result(result) for result in results]
    by_key = {key: [k for k in made if k == key] for key in made}
    assert all(all(k is same[0] for k in same) for same in by_key.values())


def test_collections_pause_inside_the_block_and_resume_as_they_were() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
