"""Measuring must not change what is measured: a flushed start, the wire as the yardstick, a
cheap sampler, and the fidelity experiment's own arithmetic."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from memharness_s3.config.settings import RunSettings
from memharness_s3.execution.host_memory import reported_counters, reporting_active
from memharness_s3.execution.local.measure import ProcessProbe, WorkerSpawn, run_group
from memharness_s3.execution.local.runner import run_case
from memharness_s3.execution.procfs import current_rss, meminfo_bytes
from memharness_s3.execution.session import Session, Target
from memharness_s3.experiments.fidelity import Sample, main, ratio_interval, render
from memharness_s3.model.records import of_wire
from memharness_s3.results.loader import load
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3 import wire
from memharness_s3.s3.backends import Backend, open_backend
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import ensure_bucket, fixture_ref, make_client, upload_fixture
from tests.support.services import planned

MB = 10**6
DIRTY_BYTES = 256 * MB


@pytest.mark.integration
def test_every_run_starts_with_dirty_pages_flushed_and_says_so(
    tmp_path: Path, moto_backend: Backend, uploaded: Callable[[int], Fixture]
) -> None:
    """Leave 256 MB of dirty pages behind, as a run that wrote a file does; the next run starts
    from a flushed page cache and records how much was still dirty."""
    fixture = uploaded(4 * MB)
    with open(tmp_path / "dirty.bin", "wb") as file:
        for _ in range(DIRTY_BYTES // MB):
            file.write(os.urandom(MB))
    dirty_before = meminfo_bytes("Dirty")["Dirty"]
    if dirty_before < DIRTY_BYTES // 2:
        pytest.skip(f"the kernel wrote the pages back at once (Dirty {dirty_before} bytes)")
    (result,) = run_case(planned(fixture, "chunked"), moto_backend, ResultsWriter(tmp_path), 60)
    assert result.status == "ok"
    assert result.dirty_bytes_at_start is not None and result.writeback_bytes_at_start is not None
    assert result.dirty_bytes_at_start < DIRTY_BYTES // 4


def test_the_probe_reads_rss_as_the_kernel_counts_it() -> None:
    probe = ProcessProbe(os.getpid())
    try:
        assert abs(probe.rss() - current_rss()) < 4 * MB
    finally:
        probe.close()
    assert ProcessProbe(2**22 + 12345).rss() == 0  # no such process


@pytest.mark.integration
def test_wire_throughput_of_a_known_object_on_a_real_server(
    tmp_path: Path, cache_dir: Path
) -> None:
    """Plain GETs of a 16 MB object on a real s3rver process (the wire process checks every byte
    against Content-Length): a positive MB/s per GET; a run records it on every line, with the
    strategy's share of it."""
    from memharness_s3.s3.fixture_cache import ensure_fixture

    fixture = ensure_fixture("16MB", 16 * MB, "tests", cache_dir)
    with open_backend("s3rver", None, None, tmp_path) as backend:
        s3 = make_client(backend)
        ensure_bucket(s3, backend, "wire", create=True)
        upload_fixture(s3, backend, "wire", fixture)
        key = fixture_ref("wire", fixture).key
        env = {**os.environ, **backend.worker_env}
        speeds = wire.measure(backend.endpoint_url, backend.region, "wire", [key], env, repeats=2)
        assert list(speeds) == [key] and len(speeds[key]) == 2
        assert all(speed > 0 for speed in speeds[key])
        with pytest.raises(OSError, match="HTTP 404"):
            wire.measure(backend.endpoint_url, backend.region, "wire", ["nope.pdf"], env)

        settings = RunSettings(
            sizes=[("16MB", 16 * MB)], strategies=["chunked"], repeat=2, settle_host_memory=True
        )
        target = Target(bucket="wire", seed="tests", cache_dir=cache_dir.parent / "wire-cache")
        results = Session(settings, target, tmp_path / "out").run(backend)
    assert len(results) == 2
    counted = reported_counters() is not None
    for result in results:
        assert result.status == "ok"
        assert result.wire_mb_s is not None and result.wire_mb_s > 0
        share = of_wire(result)
        assert share is not None and share > 0
        # Recorded wherever the kernel counts it, whether or not the runs waited for it.
        assert (result.host_reported_bytes is not None) is (counted and reporting_active())
    meta = load(tmp_path / "out").meta.raw
    (samples,) = meta["wire_mb_s"].values()
    assert len(samples) == wire.DEFAULT_REPEATS
    active = reporting_active()
    assert meta["host_memory"] == {"free_page_reporting": active, "settled": active}


def _samples(mode: str, mb_s: float, peak: int) -> list[Sample]:
    return [Sample("chunked", mode, r, 1.0, mb_s + r, peak, 50 * MB) for r in range(3)]


def test_the_fidelity_table_states_each_goal_from_the_medians() -> None:
    samples = [
        *_samples("plain", 500, 70 * MB),
        *_samples("plain-again", 505, 70 * MB),
        *_samples("sampled", 480, 70 * MB),
        *_samples("harness", 460, 71 * MB),
    ]
    text = render(samples, [600.0, 620.0, 640.0], "750MB", 0.01, seed=7)
    assert "3 interleaved repeats, modes in an order shuffled per repeat (seed 7)" in text
    assert "sampling every 10 ms" in text
    assert "wire (plain GET, no SDK) 620 (600-640) MB/s" in text
    assert "chunked: harness/plain throughput 0.92 (goal >= 0.95: NOT met)" in text
    assert "peak-base 21.0 vs 20.0 MB (goal within 8.4 MB: met)" in text
    # Every mode against plain, pair by pair; the A/A control says what it is.
    control = next(line for line in text.splitlines() if "plain-again/plain" in line)
    assert "1.01" in control and "lower in 0 of 3 pairs" in control and "A/A control" in control
    harness = next(
        line
        for line in text.splitlines()
        if line.startswith("chunked  ") and "harness/plain" in line
    )
    assert "0.92" in harness and "by mean 0.92" in harness and "lower in 3 of 3 pairs" in harness
    # plain-again ran 1 % above plain in every pair; the harness 8 % below: outside the control.
    assert "against the A/A control's 90 % interval: by median 0.92, OUTSIDE 1.01-1.01" in text


def test_the_table_counts_the_runs_the_host_took_memory_back_during() -> None:
    """Where the kernel counts free page reporting, each mode's row says how many of its runs
    a pass (64 MiB or more) overlapped; where it does not, the column is not shown."""
    plain = [
        Sample("chunked", "plain", r, 1.0, 500.0, 70 * MB, 50 * MB, reported)
        for r, reported in enumerate([700 * MB, 0, 8 * MB])
    ]
    harness = [Sample("chunked", "harness", r, 1.0, 500.0, 70 * MB, 50 * MB, 0) for r in range(3)]
    text = render([*plain, *harness], [600.0], "750MB", 0.01, busy=1)
    assert "host passes" in text
    row = next(line for line in text.splitlines() if line.startswith("chunked          plain "))
    assert row.endswith("1 of 3")
    uncounted = [Sample(s.strategy, s.mode, s.repeat, 1.0, 500.0, 70 * MB, 50 * MB) for s in plain]
    uncounted += [Sample("chunked", "harness", r, 1.0, 500.0, 70 * MB, 50 * MB) for r in range(3)]
    assert "host passes" not in render(uncounted, [600.0], "750MB", 0.01)


def test_the_mean_ratio_follows_the_share_of_fast_runs_where_the_median_jumps() -> None:
    """Two speeds, fast in 5 of 9 runs for plain and 4 of 9 for the harness: the median jumps from
    the fast speed to the slow one, the mean moves by the one run; the harness verdict reads both
    against the A/A control and says which side of its interval each lies."""
    fast, slow = 600.0, 400.0
    plain = _paired("plain", [fast] * 5 + [slow] * 4)
    control = _paired("plain-again", [fast] * 4 + [slow] * 5)
    harness = _paired("harness", [slow] + [fast] * 4 + [slow] * 4)
    text = render([*plain, *control, *harness], [700.0], "750MB", 0.01, busy=1)
    line = next(line for line in text.splitlines() if "harness/plain" in line and "by mean" in line)
    assert line.split()[2] == f"{slow / fast:.2f}"  # the median: the other speed
    assert f"by mean {(4 * fast + 5 * slow) / (5 * fast + 4 * slow):.2f}" in line
    assert "by median 0.67, inside" in text and "by mean 0.96, inside" in text


def _paired(mode: str, speeds: list[float]) -> list[Sample]:
    return [Sample("readinto", mode, r, 1.0, mb_s, 0, 0) for r, mb_s in enumerate(speeds)]


def test_the_ratio_interval_brackets_the_ratio_and_is_narrow_only_when_the_pairs_agree() -> None:
    noise = [1.0, 1.3, 0.8, 1.1, 0.9, 1.25, 0.85, 1.05, 0.95, 1.2, 0.75, 1.15]
    plain = _paired("plain", [400 * n for n in noise])
    same = _paired("plain-again", [400 * n for n in reversed(noise)])
    slower = _paired("harness", [0.9 * 400 * n for n in noise])
    point, low, high = ratio_interval(same, plain)
    assert low <= point <= high
    assert low < 1.0 < high  # the same thing twice: 1 is inside
    point, low, high = ratio_interval(slower, plain)
    assert point == pytest.approx(0.9)
    # 10 % slower in every pair: the interval is tight around it and excludes 1.
    assert 0.85 < low <= point <= high < 0.95
    assert ratio_interval(slower, plain) == (point, low, high)  # deterministic


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        ("plain,harness,tracing", "unknown mode 'tracing'"),
        ("plain,sampled", "the modes must include harness"),
        ("harness", "the modes must include plain"),
    ],
)
def test_bad_modes_are_refused_in_one_line(
    modes: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--modes", modes])
    assert ended.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_worker_is_a_group_of_its_own_in_the_harness_session(tmp_path: Path) -> None:
    """A worker can be stopped as a group, and is scheduled as a real worker is: in its parent's
    session (with ``sched_autogroup``, the session is the group the CPU is shared by)."""
    script = "import os; print(os.getpid(), os.getpgid(0), os.getsid(0))"
    spawn = WorkerSpawn([sys.executable, "-c", script], os.environ, tmp_path / "w.log", tmp_path)
    (worker,) = run_group([spawn], 60.0).workers
    assert worker.exit_code == 0
    pid, group, session = (int(word) for word in (tmp_path / "w.log").read_text().split())
    assert pid == worker.pid
    assert group == pid
    assert session == os.getsid(0)
