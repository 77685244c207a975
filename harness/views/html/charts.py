"""The report's figures as inline SVG, drawn by :mod:`~memharness_s3.views.html.svg`.

Inline SVG keeps the HTML page one self-contained file (no network, no side files, no plotting
library in the install) and stays sharp at any zoom. Each figure is one ``<svg>`` of panels
(small multiples, each on its own scales where it says so) and a legend list under it that
wraps rather than cuts entries. Every strategy keeps its colour in every figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from memharness_s3.analysis.cases import Analysis, Series, group_by_size, median_of
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.views.html.svg import (
    BUDGET,
    CAP,
    DASHED,
    Canvas,
    LegendEntry,
    Panel,
    Scale,
    Stroke,
    draw_axes,
    figure_markup,
    linear_ticks,
    reference_line,
    text_width,
)

MAX_TIMELINE_PANELS = 48
"""More panels than this would be too small to read; the rest are summarised as not drawn."""
MAX_RUNS_PER_PANEL = 24
"""Runs overlaid in one timeline panel at most (repeats x workers): more are one blur."""
MAX_POINTS = 400
"""Points of one drawn timeline at most: more than a panel's width in pixels."""
NAMED_DROPPED = 12
"""Panels not drawn that the note names; the rest are counted."""
WIDTH = 1100
"""Every figure's width in CSS pixels (it shrinks with the page)."""
ROW_HEIGHT = 380
"""Height of a figure whose panels stand in one row."""
TIMELINE_ROW = 150
"""Height of a row of timeline panels: title, plot, tick labels."""
TIMELINE_PLOT = 106
RUN_NAME_WIDTH = 120
"""Pixels of a run's name under the peak-history chart; a longer one is shortened (tooltip)."""
MB = 1e6
FAILED_STATUSES = "failed run (oom, error, timeout)"
REFERENCE = Stroke("#999", 1.2, DASHED)


@dataclass(frozen=True)
class Chart:
    """A figure ready for the page: its ``<svg>`` and legend as markup, and its texts."""

    title: str
    markup: Markup
    """The ``<svg>`` and the legend list; every text in it escaped by the svg module."""
    alt: str
    note: str = ""


def palette(analysis: Analysis) -> dict[str, str]:
    """One colour per series name (strategy, process step, pool), the same in every figure."""
    names = analysis.series_names
    return {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(names)}


COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def peak_vs_size(analysis: Analysis, budget_bytes: int) -> Chart:
    """Median peak RSS of ok runs against object size, one panel per concurrency level.

    A failed run is a cross at its last recorded peak; a killed task that recorded none (a
    Celery child the kernel killed) is a cross at the cap it was killed under (else the
    budget), so that no kill vanishes from the chart."""
    # a run whose object could not be sized (missing, empty: size 0) has no place on a log axis
    results = [r for r in analysis.results if r.size_bytes > 0]
    colours = palette(analysis)
    levels = sorted({r.concurrency for r in results})
    sizes = sorted({r.size_bytes for r in results})
    top = max([budget_bytes, *(r.peak_rss_bytes or 0 for r in results)]) / MB * 1.12
    by_level: dict[int, list[RunResult]] = {}
    for result in results:
        by_level.setdefault(result.concurrency, []).append(result)
    canvas = Canvas(WIDTH, ROW_HEIGHT)
    x_ticks = [(float(size), format_size(size)) for size in sizes]
    row = _row_of_panels(len(levels), sizes[0] / 1.6, sizes[-1] * 1.6, top, log=True)
    for index, (panel, level) in enumerate(zip(row, levels, strict=True)):
        draw_axes(canvas, panel, x_ticks, linear_ticks(0, top), y_labels=index == 0)
        reference_line(
            canvas, panel, budget_bytes / MB, BUDGET, f"budget {format_size(budget_bytes)}"
        )
        for series, runs in analysis.group_by_series(by_level[level]).items():
            colour = colours[series.name]
            points = []
            for size, group in group_by_size(runs).items():
                peak = median_of([r for r in group if r.status == "ok"], lambda r: r.peak_rss_bytes)
                if peak is not None:
                    points.append(panel.at(size, peak / MB))
            canvas.polylines([points], Stroke(colour))
            canvas.dots(points, colour)
            canvas.crosses(
                [
                    panel.at(r.size_bytes, shown / MB)
                    for r in runs
                    if r.status not in ("ok", INFRA) and (shown := failed_peak(r, budget_bytes))
                ],
                colour,
            )
        _panel_title(canvas, panel, f"{_workers(level)} at once (peak per worker)")
        _x_label(canvas, panel, "object size (log scale)")
    _y_label(canvas, "peak RSS (MB)", ROW_HEIGHT / 2)
    legend = [
        *_series_legend(colours, dot=True),
        LegendEntry(f"budget {format_size(budget_bytes)}", BUDGET.colour, dash=BUDGET.dash),
        LegendEntry(FAILED_STATUSES, "#fff", kind="cross"),
    ]
    return _chart(
        canvas,
        legend,
        "Peak RSS against object size",
        "Median peak RSS of each strategy against object size, with the budget line; "
        "crosses mark runs that failed (a killed task that recorded no peak, at its cap).",
    )


def failed_peak(run: RunResult, budget_bytes: int) -> int | None:
    """Where a failed run's cross goes: its last peak; for an oom kill that recorded none, the
    RSS it was killed at, else the cap it ran under, else the budget."""
    if run.peak_rss_bytes:
        return run.peak_rss_bytes
    if run.status == "oom":
        return run.oom_at_rss_bytes or run.memory_limit_bytes or budget_bytes
    return None


def rss_timelines(analysis: Analysis, results_dir: Path, budget_bytes: int) -> Chart:
    """Small multiples: a panel per series and size that ran, every worker's RSS over time
    (workers and repeats overlaid), each panel on its own time and RSS scale, the budget and
    caps drawn where they are within twice the panel's peak.

    The cost is bounded whatever the number of results: at most :data:`MAX_TIMELINE_PANELS`
    panels (those with failed runs first, then the highest peaks; the rest summarised in the
    note), at most :data:`MAX_RUNS_PER_PANEL` runs each, each series cut to at most
    :data:`MAX_POINTS` points."""
    results = analysis.results
    colours = palette(analysis)
    groups = analysis.group_by_series(results)
    panels = [
        (series, size, runs)
        for series in sorted(groups, key=lambda s: (s.concurrency, s))
        for size, runs in group_by_size(groups[series]).items()
    ]
    chosen = set(
        sorted(range(len(panels)), key=lambda i: _panel_rank(panels[i][2]))[:MAX_TIMELINE_PANELS]
    )
    drawn = [panel for index, panel in enumerate(panels) if index in chosen]
    dropped = [panel for index, panel in enumerate(panels) if index not in chosen]
    columns = min(len({size for _, size, _ in panels}), 4, len(drawn))
    rows = math.ceil(len(drawn) / columns)
    caps = {r.memory_limit_bytes for r in results if r.memory_limit_bytes}
    references = [(budget_bytes, BUDGET), *((cap, CAP) for cap in sorted(caps - {budget_bytes}))]
    canvas = Canvas(WIDTH, 10 + rows * TIMELINE_ROW + 16)
    cell = (WIDTH - 24) / columns
    for index, (series, size, runs) in enumerate(drawn):
        left = 24 + (index % columns) * cell
        top = 10 + (index // columns) * TIMELINE_ROW
        canvas.text(
            left + 4, top + 9, f"{series.label}, {format_size(size)}", 9, max_width=cell - 12
        )
        _timeline_panel(
            canvas,
            (left + 40, top + 16, left + cell - 12, top + 16 + TIMELINE_PLOT),
            runs,
            results_dir,
            colours[series.name],
            references,
        )
    _y_label(canvas, "RSS (MB)", 10 + rows * TIMELINE_ROW / 2, size=10)
    canvas.text(WIDTH / 2, canvas.height - 6, "seconds", 10, "middle")
    legend = [
        LegendEntry(
            f"budget {format_size(budget_bytes)} (drawn in panels peaking above half of it)",
            BUDGET.colour,
            dash=BUDGET.dash,
        ),
        *(
            LegendEntry(f"cap {format_size(cap)}", CAP.colour, dash=CAP.dash)
            for cap, _ in references[1:]
        ),
        LegendEntry("run ended here (failed)", "#000", kind="cross"),
    ]
    return _chart(
        canvas,
        legend,
        "RSS over time",
        "RSS timeline of every run: a panel per strategy, concurrency and size that ran, each "
        "on its own time and RSS scale; concurrent workers and repeats overlaid.",
        _dropped_note(dropped, len(panels)),
    )


def _panel_rank(runs: Sequence[RunResult]) -> tuple[bool, int]:
    """Panels with failed runs first, then those with the highest peak."""
    failed = any(r.status not in ("ok", INFRA) for r in runs)
    return (not failed, -max((r.peak_rss_bytes or 0 for r in runs), default=0))


def _dropped_note(dropped: Sequence[tuple[Series, int, list[RunResult]]], total: int) -> str:
    """The panels not drawn, summarised: how many, and the first few by name."""
    if not dropped:
        return ""
    named = ", ".join(
        f"{series.label} {format_size(size)}" for series, size, _ in dropped[:NAMED_DROPPED]
    )
    more = len(dropped) - NAMED_DROPPED
    failed = sum(any(r.status not in ("ok", INFRA) for r in runs) for _, _, runs in dropped)
    return (
        f"Drawn: {total - len(dropped)} of {total} panels (panel limit {MAX_TIMELINE_PANELS}: "
        f"those with failed runs first, then the highest peaks). Not drawn: {named}"
        + (f" and {more} more" if more > 0 else "")
        + (f" ({failed} of them with failed runs)" if failed else "")
        + "."
    )


def aggregate_vs_concurrency(analysis: Analysis, budget_bytes: int) -> Chart:
    """The node's resident peak (``node_charged_peak_bytes``, as the kernel charges it) where
    the runs recorded it, else the largest simultaneous sum of a case's workers' RSS, against
    concurrency, per size."""
    results = analysis.results
    colours = palette(analysis)
    sizes = sorted({r.size_bytes for r in results})
    levels = sorted({r.concurrency for r in results})
    charged = any(_charged(r) is not None for r in results)
    value_of = _charged if charged else _aggregate
    cells: dict[tuple[int, str, int], list[RunResult]] = {}
    for result in results:
        key = (result.size_bytes, analysis.series_of(result).name, result.concurrency)
        cells.setdefault(key, []).append(result)
    # (size, name) -> the line's points in data units, and those with a failed run
    lines: dict[tuple[int, str], tuple[list[tuple[int, float]], list[tuple[int, float]]]] = {}
    for size, name in sorted({(size, name) for size, name, _ in cells}):
        points, failed = lines.setdefault((size, name), ([], []))
        for level in levels:
            runs = cells.get((size, name, level), [])
            value = median_of(runs, value_of)
            if value is None:
                continue
            points.append((level, value / MB))
            if any(r.status not in ("ok", INFRA) for r in runs):
                failed.append((level, value / MB))
    highest = max((y for points, _ in lines.values() for _, y in points), default=0.0)
    top = max(highest, levels[-1] * budget_bytes / MB) * 1.08
    pad = max(0.5, (levels[-1] - levels[0]) * 0.06)
    canvas = Canvas(WIDTH, ROW_HEIGHT)
    x_ticks = [(float(level), str(level)) for level in levels]
    row = _row_of_panels(len(sizes), levels[0] - pad, levels[-1] + pad, top)
    for index, (panel, size) in enumerate(zip(row, sizes, strict=True)):
        draw_axes(canvas, panel, x_ticks, linear_ticks(0, top), y_labels=index == 0)
        canvas.polylines(
            [[panel.at(level, level * budget_bytes / MB) for level in levels]], REFERENCE
        )
        for (line_size, name), (points, failed) in lines.items():
            if line_size != size:
                continue
            shown = [panel.at(x, y) for x, y in points]
            canvas.polylines([shown], Stroke(colours[name]))
            canvas.dots(shown, colours[name])
            canvas.crosses([panel.at(x, y) for x, y in failed], colours[name])
        _panel_title(canvas, panel, format_size(size))
        _x_label(canvas, panel, "workers at once")
    label = "node resident peak (MB)" if charged else "aggregate peak RSS (MB)"
    _y_label(canvas, label, ROW_HEIGHT / 2)
    legend = [
        *_series_legend(colours, dot=True),
        LegendEntry(FAILED_STATUSES, "#fff", kind="cross"),
        LegendEntry("workers \u00d7 budget", REFERENCE.colour, dash=REFERENCE.dash),
    ]
    if charged:
        return _chart(
            canvas,
            legend,
            "Node resident peak against concurrency",
            "The node's resident peak as the kernel charges it (its cgroup's memory without "
            "page cache, or the sum of its processes' PSS) against the number of workers, per "
            "size.",
        )
    return _chart(
        canvas,
        legend,
        "Aggregate peak against concurrency",
        "Largest sum of the workers' simultaneous RSS against the number of workers, per size.",
    )


def _charged(result: RunResult) -> int | None:
    # getattr: the field is added by the node-scope measurements; results without it read None
    value: int | None = getattr(result, "node_charged_peak_bytes", None)
    return value


def _aggregate(result: RunResult) -> int | None:
    return result.aggregate_peak_rss_bytes


def throughput(analysis: Analysis) -> Chart:
    """Median throughput of ok runs per strategy and size, one panel per concurrency level.

    A missing bar is labelled with why: the runs failed (their status) or downloaded nothing.
    """
    results = analysis.results
    colours = palette(analysis)
    sizes = sorted({r.size_bytes for r in results})
    levels = sorted({r.concurrency for r in results})
    names = list(colours)
    width = 0.8 / len(names)
    cells: dict[tuple[int, str, int], list[RunResult]] = {}
    for result in results:
        key = (result.concurrency, analysis.series_of(result).name, result.size_bytes)
        cells.setdefault(key, []).append(result)
    # level -> bars (x in columns, MB/s, colour) and gaps (x, why)
    bars: dict[int, list[tuple[float, float, str]]] = {level: [] for level in levels}
    gaps: dict[int, list[tuple[float, str]]] = {level: [] for level in levels}
    for (level, name, size), runs in cells.items():
        x = sizes.index(size) - 0.4 + width * (names.index(name) + 0.5)
        value = median_of([r for r in runs if r.status == "ok"], lambda r: r.throughput_mb_s)
        if value is not None:
            bars[level].append((x, value, colours[name]))
        else:
            why = "/".join(sorted({r.status for r in runs} - {"ok"})) or "no download"
            gaps[level].append((x, why))
    top = max((v for held in bars.values() for _, v, _ in held), default=1.0) * 1.1
    canvas = Canvas(WIDTH, ROW_HEIGHT)
    x_ticks = [(float(column), format_size(size)) for column, size in enumerate(sizes)]
    row = _row_of_panels(len(levels), -0.5, len(sizes) - 0.5, top)
    for index, (panel, level) in enumerate(zip(row, levels, strict=True)):
        draw_axes(canvas, panel, x_ticks, linear_ticks(0, top), y_labels=index == 0)
        bar_width = abs(panel.x(width) - panel.x(0))
        for x, value, colour in bars[level]:
            left, height = panel.x(x) - bar_width / 2, panel.bottom - panel.y(value)
            canvas.rect(left, panel.y(value), bar_width, height, colour)
        for x, why in gaps[level]:
            canvas.text(panel.x(x) + 3, panel.bottom - 4, why, 8, rotate=-90)
        _panel_title(canvas, panel, f"{_workers(level)} at once (per worker)")
    _y_label(canvas, "throughput (MB/s)", ROW_HEIGHT / 2)
    return _chart(
        canvas,
        _series_legend(colours, bars=True),
        "Throughput",
        "Median fetch throughput per worker for each strategy and size (MB = 10^6 bytes); "
        "a gap is labelled with the failed status, or 'no download'.",
    )


def retained_vs_task_index(analysis: Analysis) -> Chart:
    """Celery: what a long-lived child keeps after each task (solid) and each task's own peak
    (dashed), against how many tasks the child had run before, per configuration."""
    colours = palette(analysis)
    by_name: dict[str, dict[int, list[RunResult]]] = {}
    for run in analysis.results:
        if run.task_index is not None:
            by_task = by_name.setdefault(analysis.series_of(run).name, {})
            by_task.setdefault(run.task_index, []).append(run)
    lines: list[tuple[str, list[tuple[int, float]], list[tuple[int, float]]]] = []
    for name, by_task in sorted(by_name.items()):
        kept = [(i, median_of(by_task[i], _retained)) for i in sorted(by_task)]
        peaks = [(i, median_of(by_task[i], _peak)) for i in sorted(by_task)]
        lines.append(
            (
                name,
                [(i, v / MB) for i, v in kept if v is not None],
                [(i, v / MB) for i, v in peaks if v is not None],
            )
        )
    indexes = sorted({i for by_task in by_name.values() for i in by_task})
    top = max((y for _, a, b in lines for _, y in [*a, *b]), default=1.0) * 1.1
    pad = max(0.5, (indexes[-1] - indexes[0]) * 0.04)
    canvas = Canvas(WIDTH, ROW_HEIGHT)
    (panel,) = _row_of_panels(1, indexes[0] - pad, indexes[-1] + pad, top)
    x_ticks = (
        [(float(i), str(i)) for i in indexes]
        if len(indexes) <= 20
        else linear_ticks(indexes[0], indexes[-1], 8)  # steps of 5 or more: whole numbers
    )
    draw_axes(canvas, panel, x_ticks, linear_ticks(0, top))
    for name, kept_points, peak_points in lines:
        colour = colours[name]
        kept_shown = [panel.at(x, y) for x, y in kept_points]
        canvas.polylines([kept_shown], Stroke(colour))
        canvas.dots(kept_shown, colour)
        canvas.polylines(
            [[panel.at(x, y) for x, y in peak_points]], Stroke(colour, dash=DASHED, opacity=0.6)
        )
    _x_label(canvas, panel, "tasks the child ran before this one")
    _y_label(canvas, "RSS (MB)", ROW_HEIGHT / 2)
    legend = [
        *(LegendEntry(name, colours[name], dot=True) for name, _, _ in lines),
        LegendEntry("kept after the task", "#555", dot=True),
        LegendEntry("the task's peak", "#555", dash=DASHED),
    ]
    return _chart(
        canvas,
        legend,
        "Retained RSS against task index (Celery)",
        "RSS a prefork child keeps after each task, and each task's peak, against the number of "
        "tasks the child had already run: the high-water mark a fresh process cannot show.",
        "A child whose kept RSS climbs takes that memory into every later task; "
        "worker_max_memory_per_child replaces it only after a task has passed the limit.",
    )


def _retained(result: RunResult) -> int | None:
    return result.retained_rss_bytes


def _peak(result: RunResult) -> int | None:
    return result.peak_rss_bytes


def read_timeline(results_dir: Path, relative: str) -> list[tuple[float, float]]:
    """A run's ``t_s,rss_bytes`` CSV as (seconds, MB); empty if missing, unreadable, or
    outside the results directory (the path comes from an untrusted results line)."""
    root = results_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return []
    points = []
    try:
        with path.open(encoding="utf-8", errors="strict") as handle:
            for line in handle:
                t_text, _, rss_text = line.partition(",")
                try:
                    t, rss = float(t_text), float(rss_text.partition(",")[0])
                except ValueError:
                    continue
                if math.isfinite(t) and math.isfinite(rss):
                    points.append((t, rss / MB))
    except (OSError, UnicodeDecodeError):
        return []
    return points


def downsample(points: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most about ``limit`` points of a timeline: in each of ``limit // 2`` equal slices,
    its lowest and highest sample in time order, so the peaks and the dips stay drawn."""
    if len(points) <= limit:
        return points
    buckets = max(1, limit // 2)
    step = len(points) / buckets
    kept: list[tuple[float, float]] = []
    for index in range(buckets):
        chunk = points[round(index * step) : round((index + 1) * step)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    return kept


def _timeline_panel(
    canvas: Canvas,
    box: tuple[float, float, float, float],
    runs: Sequence[RunResult],
    results_dir: Path,
    colour: str,
    references: Sequence[tuple[int, Stroke]],
) -> None:
    """Draw a panel's runs in ``box`` (left, top, right, bottom; at most
    :data:`MAX_RUNS_PER_PANEL`: failed ones first, then the highest peaks) on the panel's own
    scales, with the reference lines within twice its peak."""
    left, top, right, bottom = box
    shown = sorted(runs, key=lambda r: (r.status == "ok", -(r.peak_rss_bytes or 0)))
    timelines: list[list[tuple[float, float]]] = []
    ends: list[tuple[float, float]] = []
    for run in shown[:MAX_RUNS_PER_PANEL]:
        points = read_timeline(results_dir, run.timeline_file) if run.timeline_file else []
        if points:
            timelines.append(downsample(points, MAX_POINTS))
            if run.status != "ok":
                ends.append(timelines[-1][-1])
    peak = max((m for points in timelines for _, m in points), default=0.0)
    drawn = [
        (level / MB, stroke) for level, stroke in references if peak and level <= 2 * peak * MB
    ]
    high = max([peak, *(level for level, _ in drawn)]) * 1.1 or 1.0
    start = min((t for points in timelines for t, _ in points), default=0.0)
    end = max((t for points in timelines for t, _ in points), default=1.0)
    start, end = min(start, 0.0), end if end > start else start + 1
    panel = Panel(Scale(start, end, left, right), Scale(0, high, bottom, top))
    x_ticks = linear_ticks(start, end, 4) if timelines else []
    y_ticks = linear_ticks(0, high, 4) if timelines else []
    draw_axes(canvas, panel, x_ticks, y_ticks, size=8)
    for level, stroke in drawn:
        reference_line(canvas, panel, level, stroke)
    canvas.polylines(
        ([panel.at(t, m) for t, m in points] for points in timelines),
        Stroke(colour, 0.9, opacity=0.8),
    )
    canvas.crosses([panel.at(t, m) for t, m in ends], colour)
    middle = ((left + right) / 2, (top + bottom) / 2)
    if not runs:
        canvas.text(*middle, "not measured", 10, "middle")
    elif not timelines:
        canvas.text(*middle, "no timeline", 10, "middle")
    statuses = sorted({r.status for r in runs})
    if statuses and statuses != ["ok"]:
        canvas.text(left + 4, top + 11, "/".join(statuses), 9, colour="#7f1d1d", bold=True)
    if len(shown) > MAX_RUNS_PER_PANEL:
        label = f"{MAX_RUNS_PER_PANEL} of {len(shown)} runs"
        canvas.text(right - 3, bottom - 4, label, 8, "end", colour="#555")


def _row_of_panels(
    count: int, x_low: float, x_high: float, y_high: float, log: bool = False
) -> list[Panel]:
    """``count`` panels side by side in a figure :data:`ROW_HEIGHT` high, sharing the y scale
    from 0 to ``y_high``."""
    left, right, gap = 64, WIDTH - 12, 24
    width = (right - left - gap * (count - 1)) / count
    y = Scale(0, y_high or 1.0, ROW_HEIGHT - 50, 28)
    return [
        Panel(
            Scale(x_low, x_high, left + i * (width + gap), left + i * (width + gap) + width, log), y
        )
        for i in range(count)
    ]


def _panel_title(canvas: Canvas, panel: Panel, title: str) -> None:
    canvas.text(
        (panel.left + panel.right) / 2,
        panel.top - 8,
        title,
        12,
        "middle",
        max_width=panel.right - panel.left,
    )


def _x_label(canvas: Canvas, panel: Panel, label: str) -> None:
    canvas.text((panel.left + panel.right) / 2, panel.bottom + 32, label, 11, "middle")


def _y_label(canvas: Canvas, label: str, middle: float, size: float = 11) -> None:
    canvas.text(size + 2, middle, label, size, "middle", rotate=-90)


def _series_legend(
    colours: dict[str, str], dot: bool = False, bars: bool = False
) -> list[LegendEntry]:
    kind = "bar" if bars else "line"
    return [LegendEntry(name, colour, kind=kind, dot=dot) for name, colour in colours.items()]


def _workers(level: int) -> str:
    return "1 worker" if level == 1 else f"{level} workers"


def _chart(
    canvas: Canvas, legend: Sequence[LegendEntry], title: str, alt: str, note: str = ""
) -> Chart:
    return Chart(
        title=title,
        markup=figure_markup(canvas.render(title, alt), legend),
        alt=alt,
        note=note,
    )


def peak_history(
    run_names: Sequence[str],
    series: dict[str, list[float | None]],
    steps: dict[str, list[int]],
) -> Chart:
    """Median peak of each case over the runs, in order; change points as dashed verticals."""
    longest = max((len(name) for name in run_names), default=0)
    # the run names, slanted 30 degrees: half their width (at most 120 px) below the axis
    label_room = min(RUN_NAME_WIDTH, text_width("x" * longest, 10)) / 2 + 24
    height = round(ROW_HEIGHT - 50 + label_room)
    top = max((level for levels in series.values() for level in levels if level), default=MB)
    panel = Panel(
        Scale(-0.5, len(run_names) - 0.5, 64, WIDTH - 12),
        Scale(0, top / MB * 1.1, ROW_HEIGHT - 50, 20),
    )
    canvas = Canvas(WIDTH, height)
    draw_axes(
        canvas,
        panel,
        [(float(index), name) for index, name in enumerate(run_names)],
        linear_ticks(0, top / MB * 1.1),
        x_label_rotate=-30,
        x_label_width=RUN_NAME_WIDTH,
    )
    legend = []
    for index, (name, levels) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = [panel.at(x, level / MB) for x, level in enumerate(levels) if level]
        canvas.polylines([points], Stroke(colour))
        canvas.dots(points, colour)
        for step in steps.get(name, []):
            x = panel.x(step - 0.5)
            canvas.line(x, panel.top, x, panel.bottom, Stroke(colour, 1, DASHED))
        legend.append(LegendEntry(name, colour, dot=True))
    _y_label(canvas, "median peak RSS (MB)", (panel.top + panel.bottom) / 2)
    return _chart(
        canvas,
        legend,
        "Peak RSS over the runs",
        "Median peak RSS of each case in each results directory, in the order given; dashed "
        "lines mark where a new level starts.",
    )
