"""The report's charts as inline SVG: valid XML, names from results files as text only, legends
that keep every entry, reference lines where they belong, and pages that stay small."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from memharness_s3.analysis.cases import Analysis
from memharness_s3.model.records import RunResult
from memharness_s3.views.html import charts
from memharness_s3.views.html.page import render_report
from memharness_s3.views.html.svg import BUDGET
from tests.support.results import meta, run, write_results_dir

MB = 10**6
BUDGET_BYTES = 512 * 2**20
HOSTILE = ("<script>alert(1)</script>", "\"&'")
CHART = re.compile(r'<svg class="chart".*?</svg>', re.S)


def hostile_runs() -> list[RunResult]:
    """Two strategies with hostile names, two sizes, two concurrency levels, a failed run,
    Celery task indexes: enough for every chart of the report."""
    runs: list[RunResult] = []
    for name, slope in zip(HOSTILE, (0.2, 0.9), strict=True):
        for size in (100 * MB, 400 * MB):
            for level in (1, 2):
                for index in range(3):
                    peak = round(60 * MB + slope * size) + index * MB
                    status = "oom" if slope > 0.5 and size > 300 * MB and level == 2 else "ok"
                    line = run(
                        name,
                        size,
                        peak,
                        status=status,
                        concurrency=level,
                        repeat=index,
                        task_index=index,
                        retained_rss_bytes=70 * MB + index * MB,
                    )
                    # a run id names its timeline file: the strategy's "/" cannot be in it
                    runs.append(dataclasses.replace(line, run_id=f"run-{len(runs)}"))
    return runs


def parsed(chart: charts.Chart) -> ET.Element:
    """The chart's markup (its ``<svg>`` and the legend list) as one XML tree."""
    return ET.fromstring(f"<div>{chart.markup}</div>")


def every_chart(tmp_path: Path) -> list[charts.Chart]:
    lines = hostile_runs()
    folder = write_results_dir(tmp_path / "r", lines)
    analysis = Analysis(lines)
    return [
        charts.peak_vs_size(analysis, BUDGET_BYTES),
        charts.rss_timelines(analysis, folder, BUDGET_BYTES),
        charts.aggregate_vs_concurrency(analysis, BUDGET_BYTES),
        charts.throughput(analysis),
        charts.retained_vs_task_index(analysis),
        charts.peak_history(
            list(HOSTILE), {name: [70.0 * MB, 90.0 * MB] for name in HOSTILE}, {HOSTILE[0]: [1]}
        ),
    ]


def test_every_chart_is_valid_svg_and_names_reach_it_only_as_text(tmp_path: Path) -> None:
    for chart in every_chart(tmp_path):
        root = parsed(chart)
        tags = {element.tag.rpartition("}")[2] for element in root.iter()}
        assert "script" not in tags, chart.title
        assert tags <= {"div", "svg", "title", "path", "line", "rect", "circle", "text", "ul", "li"}
        texts = " ".join(root.itertext())
        for name in HOSTILE:
            assert name in texts, (chart.title, name)  # shown, as text
        assert "<script>" not in chart.markup
        (svg,) = root.findall("svg")
        assert svg.get("role") == "img" and svg.get("aria-label") == chart.alt
        assert svg.findtext("title") == chart.title


def test_the_report_page_embeds_each_chart_as_valid_svg(tmp_path: Path) -> None:
    page = render_report(write_results_dir(tmp_path / "r", hostile_runs(), meta())).read_text()
    found = CHART.findall(page)
    assert len(found) == 5  # peak, timelines, aggregate, throughput, retained
    for markup in found:
        ET.fromstring(markup)
    assert "<script" not in page.lower()


def test_the_legend_keeps_every_series(tmp_path: Path) -> None:
    lines = [run(f"strategy-{index:03}", 100 * MB, 60 * MB) for index in range(168)]
    lines += [run(f"strategy-{index:03}", 200 * MB, 61 * MB) for index in range(168)]
    chart = charts.peak_vs_size(Analysis(lines), BUDGET_BYTES)
    (legend,) = parsed(chart).findall("ul")
    labels = ["".join(item.itertext()) for item in legend]
    assert labels[:168] == [f"strategy-{index:03}" for index in range(168)]


def test_budget_lines_are_drawn_only_in_panels_that_come_near_them(tmp_path: Path) -> None:
    low = [run("chunked", 100 * MB, 60 * MB)]
    high = [run("read-all", 100 * MB, 400 * MB)]
    for lines, drawn in ((low, False), (high, True)):
        folder = write_results_dir(tmp_path / lines[0].strategy, lines)
        chart = charts.rss_timelines(Analysis(lines), folder, BUDGET_BYTES)
        (svg,) = parsed(chart).findall("svg")
        strokes = [e.get("stroke") for e in svg.iter("line")]
        assert (BUDGET.colour in strokes) is drawn


def test_timelines_stay_small_whatever_their_length(tmp_path: Path) -> None:
    """24 runs a panel of 20,000 samples each: at most MAX_POINTS points each, whole pixels."""
    lines = [
        dataclasses.replace(run("chunked", 100 * MB, 300 * MB, repeat=index), run_id=f"r{index}")
        for index in range(30)
    ]
    folder = write_results_dir(tmp_path / "r", lines)
    for result in lines:
        rows = [f"{i * 0.001:.3f},{(50 + i % 251) * MB}" for i in range(20_000)]
        (folder / str(result.timeline_file)).write_text("t_s,rss_bytes\n" + "\n".join(rows))
    chart = charts.rss_timelines(Analysis(lines), folder, BUDGET_BYTES)
    (svg,) = parsed(chart).findall("svg")
    (line,) = [p for p in svg.iter("path") if "0.8" in str(p.attrib)]
    subpaths = str(line.get("d")).split("M")[1:]
    assert len(subpaths) == charts.MAX_RUNS_PER_PANEL
    assert all(len(s.split()) <= 2 * charts.MAX_POINTS for s in subpaths)
    assert "." not in str(line.get("d"))  # whole pixels
    assert "24 of 30 runs" in " ".join(svg.itertext())
    assert len(str(chart.markup)) < 24 * 2 * charts.MAX_POINTS * 8


def test_a_run_whose_object_had_no_size_leaves_the_size_axis_alone(tmp_path: Path) -> None:
    """A missing or empty object's run (size 0, an error) next to two sized ones: the report
    draws peak against size for the sized ones instead of failing on a log axis."""
    lines = [
        run("chunked", 10 * MB, 70 * MB),
        run("chunked", 1600, 65 * MB),
        dataclasses.replace(run("chunked", 0, 0, status="error"), run_id="no-size"),
    ]
    chart = charts.peak_vs_size(Analysis(lines), BUDGET_BYTES)
    assert "1.6 KB" in chart.markup and "10 MB" in chart.markup  # the sized ones' ticks
    folder = write_results_dir(tmp_path / "r", lines)
    render_report(folder)
    assert "Peak RSS against object size" in (folder / "index.html").read_text()
