"""The size search of ``memharness limits`` against fake probers: a sharp kill threshold, a
kill rate that rises with size, nothing killed, everything killed, and runs the harness's own
setup broke (``infra``), which must never count as kills."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from memharness_s3.analysis.safe_size import (
    FITS,
    INTERRUPTED,
    KILLED,
    UNSETTLED,
    Probe,
    Resolution,
    SearchOutcome,
    SizeSearch,
    probe_of,
    search_sizes,
)
from memharness_s3.model.records import Case, RunResult

MB = 10**6
MIN, MAX = 10 * MB, 2000 * MB
TRIES, WORKERS = 3, 4


def runs(size: int, killed_per_try: list[int], infra_tries: int = 0) -> Probe:
    """A probe of TRIES runs of WORKERS workers, the given number killed in each run."""
    killed_runs = sum(1 for k in killed_per_try if k)
    return Probe(
        size_bytes=size,
        tries=TRIES,
        ok_runs=TRIES - killed_runs - infra_tries,
        killed_runs=killed_runs,
        tasks=WORKERS * (TRIES - infra_tries),
        killed_tasks=sum(killed_per_try),
        infra_runs=infra_tries,
    )


def threshold(limit: int) -> Callable[[int], Probe]:
    """Every worker is killed above ``limit``, none at or below it."""
    return lambda size: runs(size, [WORKERS if size > limit else 0] * TRIES)


def check_consistent(outcome: SearchOutcome, resolution: Resolution) -> None:
    """What holds for any search that ran to its resolution."""
    sizes = [p.size_bytes for p in outcome.probes]
    assert len(sizes) == len(set(sizes)), f"a size was tried twice: {sizes}"
    assert all(MIN <= s <= MAX for s in sizes)
    ok, killed = outcome.largest_ok_bytes, outcome.smallest_killed_bytes
    assert ok is not None and killed is not None
    assert ok < killed
    assert resolution.close_enough(ok, killed)
    assert outcome.probe_at(ok) is not None and outcome.probe_at(ok).verdict == FITS  # type: ignore[union-attr]
    assert outcome.probe_at(killed).verdict == KILLED  # type: ignore[union-attr]
    assert outcome.stopped is None


@pytest.mark.parametrize("limit_mb", [11, 53, 99.5, 140, 777, 1999])
def test_a_sharp_threshold_is_bracketed_within_the_resolution(limit_mb: float) -> None:
    limit = int(limit_mb * MB)
    outcome = search_sizes(threshold(limit), MIN, MAX)
    check_consistent(outcome, Resolution())
    assert outcome.largest_ok_bytes is not None and outcome.smallest_killed_bytes is not None
    assert outcome.largest_ok_bytes <= limit < outcome.smallest_killed_bytes
    # 10 MB to 2 GB within 10 %: the two ends, then a handful of bisections, not a sweep
    assert len(outcome.probes) <= 10


def test_the_smallest_and_largest_are_tried_first_then_sizes_in_between() -> None:
    outcome = search_sizes(threshold(60 * MB), MIN, MAX)
    sizes = [p.size_bytes for p in outcome.probes]
    assert sizes[:2] == [MIN, MAX]
    assert sizes[2] == 141 * MB  # the geometric middle of 10 MB and 2 GB, in whole MB
    assert all(s % MB == 0 for s in sizes)


def test_a_flaky_kill_rate_still_gives_a_clean_interval_and_reports_the_rate() -> None:
    """Kills start at 50 MB and become certain at 150 MB; in between each worker dies at random."""
    rng = random.Random(7)

    def flaky(size: int) -> Probe:
        rate = min(1.0, max(0.0, (size - 50 * MB) / (100 * MB)))
        return runs(size, [sum(rng.random() < rate for _ in range(WORKERS)) for _ in range(TRIES)])

    for _ in range(20):  # several draws of the randomness: the invariants hold for each
        outcome = search_sizes(flaky, MIN, MAX)
        check_consistent(outcome, Resolution())
        assert outcome.largest_ok_bytes is not None and outcome.smallest_killed_bytes is not None
        assert outcome.largest_ok_bytes < 150 * MB  # at 150 MB every worker dies
        assert outcome.smallest_killed_bytes > 50 * MB  # below 50 MB none does
        at_kill = outcome.probe_at(outcome.smallest_killed_bytes)
        assert at_kill is not None and 0 < at_kill.killed_tasks <= at_kill.tasks
        for probe in outcome.probes:  # every probe below the fit fit, every one above was killed
            if probe.size_bytes <= outcome.largest_ok_bytes:
                assert probe.verdict == FITS
            if probe.size_bytes >= outcome.smallest_killed_bytes:
                assert probe.verdict == KILLED


def test_nothing_killed_up_to_the_largest_size_has_no_smallest_killed() -> None:
    outcome = search_sizes(threshold(10 * MAX), MIN, MAX)
    assert outcome.largest_ok_bytes == MAX
    assert outcome.smallest_killed_bytes is None
    assert [p.size_bytes for p in outcome.probes] == [MIN, MAX]
    assert outcome.stopped is None


def test_everything_killed_has_no_largest_ok_and_stops_after_the_smallest() -> None:
    outcome = search_sizes(threshold(0), MIN, MAX)
    assert outcome.largest_ok_bytes is None
    assert outcome.smallest_killed_bytes == MIN
    assert [p.size_bytes for p in outcome.probes] == [MIN]


def test_infra_runs_are_never_kills_and_stop_the_search_unsettled() -> None:
    """The backend breaks every run above 300 MB (a setup fault); the strategy is fine."""

    def broken_backend(size: int) -> Probe:
        return runs(size, [0] * TRIES, infra_tries=TRIES if size > 300 * MB else 0)

    outcome = search_sizes(broken_backend, MIN, MAX)
    assert outcome.smallest_killed_bytes is None
    assert outcome.largest_ok_bytes == MIN
    assert outcome.stopped is not None and outcome.stopped.startswith(UNSETTLED)
    assert "infra" in outcome.stopped
    assert outcome.probes[-1].killed_runs == 0


def test_an_infra_run_beside_a_real_kill_is_still_a_kill() -> None:
    probe = runs(100 * MB, [2, 0, 0], infra_tries=1)
    assert probe.verdict == KILLED


def test_an_interrupted_search_keeps_its_bounds() -> None:
    search = SizeSearch(MIN, MAX)
    prober = threshold(60 * MB)
    for _ in range(3):
        size = search.next_size()
        assert size is not None
        search.record(prober(size))
    outcome = search.outcome(INTERRUPTED)
    assert outcome.stopped == INTERRUPTED
    assert outcome.largest_ok_bytes == MIN
    assert outcome.smallest_killed_bytes == 141 * MB


def test_a_narrow_range_stops_when_no_whole_step_fits_between() -> None:
    outcome = search_sizes(threshold(10_500_000), MIN, 11 * MB)
    assert (outcome.largest_ok_bytes, outcome.smallest_killed_bytes) == (MIN, 11 * MB)


def test_the_search_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError):
        SizeSearch(MAX, MIN)


# --- counting result lines into a probe --------------------------------------------------------


def line(repeat: int, worker: int, status: str, node_peak: int | None = None) -> RunResult:
    case = Case(
        "read-all",
        "100MB",
        100 * MB,
        concurrency=2,
        memory_limit_bytes=256 * 2**20,
        memory_scope="node",
    )
    return RunResult.for_case(
        case,
        repeat,
        worker,
        case_id="c",
        run_id=f"r{repeat}-{worker}-{status}",
        group_id=f"g{repeat}",
        object_key="k",
        status=status,
        backend="moto",
        started_at="2026-01-01T00:00:00+00:00",
        peak_rss_bytes=160 * MB,
        node_charged_peak_bytes=node_peak,
    )


def test_probe_of_counts_tries_kills_and_workers() -> None:
    lines = [
        *(line(0, w, "ok") for w in range(2)),
        line(1, 0, "oom"),
        line(1, 1, "ok"),
        line(2, 0, "oom"),
        line(2, 1, "oom"),
    ]
    probe = probe_of(100 * MB, 3, lines)
    assert (probe.ok_runs, probe.killed_runs, probe.tasks, probe.killed_tasks) == (1, 2, 6, 3)
    assert probe.verdict == KILLED
    assert probe.describe() == "100 MB: 3 of 6 workers killed in 2 of 3 tries"


def test_probe_of_takes_the_nodes_charged_peak_under_a_node_scoped_limit() -> None:
    lines = [line(0, 0, "ok", 250 * MB), line(0, 1, "ok", 250 * MB), line(1, 0, "ok", 262 * MB)]
    lines += [line(1, 1, "ok", 262 * MB), line(2, 0, "infra", 400 * MB)]
    assert probe_of(100 * MB, 3, lines).peak_bytes == 262 * MB  # not the infra run's


def test_probe_of_leaves_infra_lines_out_of_the_kill_count() -> None:
    lines = [line(0, 0, "ok"), line(0, 1, "ok"), line(1, 0, "infra"), line(1, 1, "infra")]
    probe = probe_of(100 * MB, 2, lines)
    assert (probe.ok_runs, probe.killed_runs, probe.infra_runs, probe.tasks) == (1, 0, 1, 2)
    assert probe.verdict == UNSETTLED
    assert "infra" in probe.describe()


def test_probe_of_an_error_without_a_kill_is_unsettled_not_a_fit() -> None:
    probe = probe_of(100 * MB, 1, [line(0, 0, "ok"), line(0, 1, "error")])
    assert (probe.failed_runs, probe.verdict) == (1, UNSETTLED)


def test_probe_of_missing_tries_is_unsettled() -> None:
    probe = probe_of(100 * MB, 3, [line(0, 0, "ok"), line(0, 1, "ok")])
    assert probe.verdict == UNSETTLED
    assert "2 with no result" in probe.describe()
