"""Measured worker runs against a real moto server process on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from memharness_s3.execution.local.measure import Tick
from memharness_s3.execution.local.runner import run_all, run_case
from memharness_s3.model.records import RunResult
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.results.loader import load
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import make_client
from tests.support.services import BUCKET, planned, wait_until

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
BUILT_INS = ("read-all", "chunked", "readinto", "range", "transfer-manager", "textract-direct")


def _run(backend: Backend, out: Path, run: PlannedRun, timeout_s: float = 120) -> RunResult:
    (result,) = run_case(run, backend, ResultsWriter(out), timeout_s)
    return result


@pytest.mark.parametrize("strategy", BUILT_INS)
def test_every_strategy_fetches_and_verifies_10mb(
    strategy: str,
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
) -> None:
    fixture = uploaded(10 * 10**6)
    result = _run(moto_backend, tmp_path, planned(fixture, strategy))
    assert result.status == "ok", result.error
    assert result.peak_rss_bytes and result.baseline_rss_bytes
    assert result.peak_rss_bytes >= result.baseline_rss_bytes
    assert result.temp_files_left == 0
    if strategy == "textract-direct":
        assert result.bytes_fetched == 0
        assert result.verified is None
        assert result.throughput_mb_s is None
        assert result.details["jobs"] == 1
    else:
        assert result.bytes_fetched == fixture.size_bytes
        assert result.verified is True
        assert result.throughput_mb_s and result.throughput_mb_s > 0


def test_read_all_costs_the_object_and_chunked_does_not(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    fixture = uploaded(64 * MiB)
    read_all = _run(moto_backend, tmp_path, planned(fixture, "read-all"))
    chunked = _run(moto_backend, tmp_path, planned(fixture, "chunked"))
    assert read_all.status == chunked.status == "ok"
    assert read_all.strategy_cost_bytes is not None and chunked.strategy_cost_bytes is not None
    assert read_all.strategy_cost_bytes >= 64 * MiB
    assert chunked.strategy_cost_bytes < 32 * MiB


@pytest.mark.usefixtures("test_plugins")
def test_a_spike_between_two_samples_is_missed_by_the_sampler_and_kept_by_vmhwm(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    """The worker allocates 64 MiB and frees it while the sampler waits between two samples
    (in its progress callback, which runs between samples): the sampled maximum cannot have
    seen it, the kernel's high-water mark must have, and the gap is the spike."""
    go, freed = tmp_path / "go", tmp_path / "freed"
    spike = 64 * MiB

    def between_samples(tick: Tick) -> None:
        if not go.exists():
            go.write_text("go")
            wait_until(freed.exists, "the worker's spike")

    params = {"go_file": str(go), "freed_file": str(freed), "spike_bytes": spike}
    run = planned(uploaded(10 * 10**6), "test-spiking", params=params)
    (result,) = run_case(run, moto_backend, ResultsWriter(tmp_path), 300, between_samples)
    assert result.status == "ok", result.error
    assert result.peak_rss_bytes is not None and result.baseline_rss_bytes is not None
    assert result.sampled_peak_rss_bytes is not None and result.timeline_file
    assert result.peak_rss_source == "VmHWM"
    assert result.peak_rss_bytes - result.baseline_rss_bytes >= 0.9 * spike
    assert result.peak_rss_bytes - result.sampled_peak_rss_bytes >= 0.5 * spike
    timeline = (tmp_path / result.timeline_file).read_text().splitlines()
    assert timeline[0] == "t_s,rss_bytes" and len(timeline) == result.samples + 1
    sampled = max(int(line.split(",")[1]) for line in timeline[1:])
    assert sampled == result.sampled_peak_rss_bytes


@pytest.mark.parametrize("strategy", ["read-all", "chunked"])
def test_pages_step_counts_the_manifest_pages(
    strategy: str, moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    fixture = uploaded(10 * 10**6)
    result = _run(moto_backend, tmp_path, planned(fixture, strategy, process="pages"))
    assert result.status == "ok", result.error
    assert result.pages == fixture.pages


@pytest.mark.parametrize("strategy", ["read-all", "range"])
def test_split_step_writes_parts_under_the_limit_and_cleans_up(
    strategy: str, moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    result = _run(moto_backend, tmp_path, planned(uploaded(10 * 10**6), strategy, "split"))
    assert result.status == "ok", result.error
    assert result.details["parts"] >= 4
    assert result.details["largest_part_bytes"] <= 3_000_000
    assert result.temp_files_left == 0


def test_textract_direct_splits_above_its_limit_and_removes_uploaded_parts(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    fixture = uploaded(10 * 10**6)
    run = planned(
        fixture, "textract-direct", params={"max_bytes": 4 * 10**6, "part_bytes": 3 * 10**6}
    )
    result = _run(moto_backend, tmp_path, run)
    assert result.status == "ok", result.error
    assert result.details["split"] is True and result.details["jobs"] >= 4
    assert result.verified is True
    listing = make_client(moto_backend).list_objects_v2(Bucket=BUCKET, Prefix=fixture.object_key)
    assert [o["Key"] for o in listing.get("Contents", [])] == [fixture.object_key]


@pytest.mark.usefixtures("test_plugins")
def test_a_raising_strategy_is_recorded_and_the_next_case_still_runs(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    fixture = uploaded(10 * 10**6)
    runs = [planned(fixture, "test-raising"), planned(fixture, "chunked")]
    run_all(runs, moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    failed, ok = load(tmp_path).results
    assert failed.status == "error" and failed.error_type == "RuntimeError"
    assert failed.error == "boom from the test strategy"
    assert ok.status == "ok" and ok.verified is True


@pytest.mark.usefixtures("test_plugins")
def test_wrong_bytes_are_never_ok(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    result = _run(moto_backend, tmp_path, planned(uploaded(10 * 10**6), "test-corrupting"))
    assert result.status == "error"
    assert result.verified is False
    assert result.error_type == "VerificationError"


@pytest.mark.usefixtures("test_plugins")
def test_temp_files_left_behind_are_counted_and_removed(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path, temp_root: Path
) -> None:
    result = _run(moto_backend, tmp_path, planned(uploaded(10 * 10**6), "test-littering"))
    assert result.status == "ok", result.error
    assert (result.temp_files_left, result.temp_bytes_left) == (1, 1000)
    assert list(temp_root.iterdir()) == []


def test_a_worker_past_its_timeout_ends_as_timeout(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    result = _run(moto_backend, tmp_path, planned(uploaded(64 * MiB), "read-all"), timeout_s=0.3)
    assert result.status == "timeout"
    assert result.signal is not None
