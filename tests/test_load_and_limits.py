"""Concurrency, hard memory caps and memray attribution, against a real moto server process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memharness_s3.execution import caps
from memharness_s3.execution.local.runner import run_all, run_case
from memharness_s3.results.loader import load
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture
from tests.support.services import planned

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
CAP = 100 * 10**6
"""Below read-all's need for a 64 MiB object (about 52 MB baseline + 67 MB), above chunked's."""


def test_two_processes_give_two_lines_and_an_aggregate_peak(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    run = planned(uploaded(64 * MiB), "read-all", concurrency=2)
    results = run_case(run, moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    assert [r.worker for r in results] == [0, 1]
    assert all(r.status == "ok" and r.verified for r in results)
    assert results[0].group_id == results[1].group_id
    aggregate = results[0].aggregate_peak_rss_bytes
    assert aggregate is not None and aggregate == results[1].aggregate_peak_rss_bytes
    for result in results:
        assert result.sampled_peak_rss_bytes is not None
        assert aggregate >= result.sampled_peak_rss_bytes
    assert results[0].min_available_bytes is not None
    assert len(load(tmp_path).results) == 2


def test_threads_pool_runs_the_fetches_in_one_worker(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    run = planned(uploaded(64 * MiB), "read-all", concurrency=2, pool="threads")
    (result,) = run_case(run, moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    assert result.status == "ok" and result.verified is True
    assert result.bytes_fetched == 2 * 64 * MiB
    assert len(result.details["fetches"]) == 2
    assert result.strategy_cost_bytes is not None
    assert result.strategy_cost_bytes >= 64 * MiB


@pytest.mark.parametrize("enforcement", ["kernel", "watchdog"])
def test_a_cap_below_read_alls_need_is_oom_and_the_next_case_runs(
    enforcement: str,
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
    temp_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if enforcement == "watchdog":
        monkeypatch.setenv("MEMHARNESS_CAP", caps.WATCHDOG)
    elif caps.enforcement_available() == caps.WATCHDOG:
        pytest.skip("no writable memory cgroup on this machine")
    fixture = uploaded(64 * MiB)
    runs = [
        planned(fixture, "read-all", memory_limit_bytes=CAP),
        planned(fixture, "chunked", memory_limit_bytes=CAP),
    ]
    over, under = run_all(runs, moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    expected = caps.WATCHDOG if enforcement == "watchdog" else caps.enforcement_available()
    assert over.cap_enforcement == under.cap_enforcement == expected
    assert over.status == "oom", over.error
    assert over.oom_at_rss_bytes is not None and over.oom_at_rss_bytes > CAP / 2
    assert over.baseline_rss_bytes is not None and over.baseline_rss_bytes < CAP
    assert under.status == "ok" and under.verified is True
    assert under.peak_rss_bytes is not None and under.peak_rss_bytes < CAP
    if enforcement == "kernel":
        assert over.cgroup_peak_bytes is not None and over.cgroup_peak_bytes <= CAP
    assert list(temp_root.iterdir()) == []


def test_memray_mode_records_a_heap_peak_and_a_flamegraph(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    run = planned(uploaded(10 * 10**6), "read-all", memray=True)
    (result,) = run_case(run, moto_backend, ResultsWriter(tmp_path), timeout_s=300)
    assert result.status == "ok", result.error
    assert result.heap_peak_bytes is not None and result.heap_peak_bytes >= 10 * 10**6
    assert result.memray_file and (tmp_path / result.memray_file).stat().st_size > 0
    assert result.flamegraph_file
    assert "<html" in (tmp_path / result.flamegraph_file).read_text()[:2000].lower()


def test_temp_disk_high_water_is_recorded(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    (result,) = run_case(
        planned(uploaded(10 * 10**6), "chunked"), moto_backend, ResultsWriter(tmp_path), 120
    )
    assert result.status == "ok"
    assert result.temp_peak_bytes >= 10 * 10**6
    assert result.temp_files_left == 0
