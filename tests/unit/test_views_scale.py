"""The views at scale (issue 19, point 3): one streaming read with lean results, charts whose
cost does not grow with the results, compare one directory at a time, and the synthetic
directories ``nox -s scale`` times. Chart items of issue 18 point 4: killed tasks stay in the
peak-against-size chart, the aggregate chart reads the node's charged peak."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from memharness_s3.analysis.cases import Analysis
from memharness_s3.experiments import scale
from memharness_s3.results.loader import iter_lines, load
from memharness_s3.views.html import charts
from tests.support.results import make_case, runs, write, write_results_dir

MB = 10**6


def test_loaded_lines_share_their_repeated_texts_and_mappings(tmp_path: Path) -> None:
    """Equal names and parameters of different lines are one object: memory per line does
    not carry its own copy of what every line repeats."""
    case = dataclasses.replace(make_case("chunked"), params={"chunk_size": 8 * 2**20})
    folder = write(tmp_path / "r", runs(case, [[69.0], [70.0], [71.0]]))
    first, *others = load(folder).results
    for other in others:
        assert other.params == first.params and other.params is first.params
        assert other.strategy is first.strategy
        assert other.object_key is first.object_key
    assert [r.peak_rss_bytes for r in iter_lines(folder / "results.jsonl")] == [
        69 * MB,
        70 * MB,
        71 * MB,
    ]


def test_a_line_of_a_newer_version_loads_without_its_unknown_fields(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", runs(make_case(), [[69.0]]))
    line = json.loads((folder / "results.jsonl").read_text())
    line["a_field_of_tomorrow"] = {"x": 1}
    (folder / "results.jsonl").write_text(json.dumps(line) + "\n")
    assert load(folder).results[0].peak_rss_bytes == 69 * MB


def test_a_killed_task_without_a_peak_is_drawn_at_its_cap() -> None:
    killed = runs(make_case("read-all", 750 * MB), [[1.0]], status="oom")[0]
    no_peak = dataclasses.replace(killed, peak_rss_bytes=None)
    assert charts.failed_peak(no_peak, 512 * 2**20) == no_peak.memory_limit_bytes
    uncapped = dataclasses.replace(no_peak, memory_limit_bytes=None)
    assert charts.failed_peak(uncapped, 512 * 2**20) == 512 * 2**20
    assert charts.failed_peak(killed, 512 * 2**20) == 1 * MB
    errored = dataclasses.replace(no_peak, status="error")
    assert charts.failed_peak(errored, 512 * 2**20) is None


def test_aggregate_chart_reads_the_node_charged_peak_when_runs_have_it() -> None:
    lines = [
        *runs(make_case("chunked", 250 * MB, 1), [[69.0]]),
        *runs(make_case("chunked", 250 * MB, 4), [[69.0, 70.0, 71.0, 72.0]]),
    ]
    plain = charts.aggregate_vs_concurrency(Analysis(lines), 512 * 2**20)
    assert plain.title == "Aggregate peak against concurrency"
    charged = [dataclasses.replace(r) for r in lines]
    for result in charged:
        result.node_charged_peak_bytes = 300 * MB
    chart = charts.aggregate_vs_concurrency(Analysis(charged), 512 * 2**20)
    assert chart.title == "Node resident peak against concurrency"


def test_downsample_keeps_the_peak_and_bounds_the_points() -> None:
    points = [(i / 1000, float(i % 97)) for i in range(20_000)]
    points[12_345] = (12.345, 1000.0)
    kept = charts.downsample(points, 400)
    assert len(kept) <= 400
    assert (12.345, 1000.0) in kept
    assert [t for t, _ in kept] == sorted(t for t, _ in kept)
    assert charts.downsample(points[:50], 400) == points[:50]


def test_timelines_draw_at_most_the_panel_limit_and_summarise_the_rest(tmp_path: Path) -> None:
    total = charts.MAX_TIMELINE_PANELS + charts.NAMED_DROPPED + 3
    lines = []
    for index in range(total):
        case = dataclasses.replace(make_case("chunked"), params={"chunk_size": index + 1})
        # the lowest peak, failed: drawn all the same (failed panels first)
        status = "oom" if index == 0 else "ok"
        lines += runs(case, [[60.0 + index]], status=status, tag=f"t{index}")
    folder = write_results_dir(tmp_path / "r", lines)
    chart = charts.rss_timelines(Analysis(lines), folder, 512 * 2**20)
    assert f"Drawn: {charts.MAX_TIMELINE_PANELS} of {total} panels" in chart.note
    assert chart.note.endswith(" and 3 more.")
    assert "chunk_size=1 " not in chart.note  # the failed one was drawn
    assert "chunk_size=2 " in chart.note  # the lowest ok peaks were not
    assert f"chunk_size={total} " not in chart.note  # the highest were


def test_synthetic_directories_have_the_lines_and_cases_asked_for(tmp_path: Path) -> None:
    source = write_results_dir(
        tmp_path / "real",
        [
            *runs(make_case("chunked", 250 * MB, 1), [[69.0]]),
            *runs(make_case("chunked", 250 * MB, 2), [[69.0, 70.0]]),
            *runs(make_case("read-all", 750 * MB, 1), [[547.7]], status="oom"),
        ],
        {"backend": "s3rver", "settings": {}},
    )
    made = scale.build(source, tmp_path / "made", lines=500, cases=40, seed=1)
    results = load(made).results
    assert len(results) == 500
    assert len(Analysis(results).cases) == 40
    assert len({r.run_id for r in results}) == 500
    assert all((made / str(r.timeline_file)).is_file() for r in results)
