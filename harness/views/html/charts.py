"""The report's four figures, drawn with matplotlib's Agg canvas and returned as PNG data URIs.

PNG data URIs keep the HTML page one self-contained file (no network, no side files) and keep
it small even for timelines of thousands of samples. No pyplot: each figure is a plain
``Figure`` on an Agg canvas, so nothing touches a display or global state. Every strategy keeps
its colour in every figure.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from memharness_s3.analysis.cases import Analysis, Series, group_by_size, median_of
from memharness_s3.config.sizes import format_size
from memharness_s3.model.records import INFRA, RunResult

# Every label is plain text: names from a results file (strategies, cases, runs) are not TeX, and
# a `$x$` in one would otherwise start mathtext and fail the whole chart (or render as math).
matplotlib.rcParams["text.parse_math"] = False

MAX_TIMELINE_PANELS = 48
"""More panels than this would be too small to read; the rest are summarised as not drawn."""
MAX_RUNS_PER_PANEL = 24
"""Runs overlaid in one timeline panel at most (repeats x workers): more are one blur."""
MAX_POINTS = 400
"""Points of one drawn timeline at most: more than a panel's width in pixels."""
NAMED_DROPPED = 12
"""Panels not drawn that the note names; the rest are counted."""
LEGEND_CHAR_IN = 0.085
"""Width of a legend label's character at the default 10 pt (a little over the average)."""
LEGEND_HANDLE_IN = 0.75
LEGEND_ROW_IN = 0.22
PANEL_HEIGHT_IN = 1.6
TIMELINE_MARGIN_IN = 0.9
DPI = 150
WIDTH_IN = 11.0
MB = 1e6
BUDGET_STYLE: dict[str, Any] = {"color": "#c0392b", "linestyle": "--", "linewidth": 1.2}
CAP_STYLE: dict[str, Any] = {"color": "#7f1d1d", "linestyle": ":", "linewidth": 1.2}
FAILED_MARKER: dict[str, Any] = {
    "marker": "X",
    "markersize": 9,
    "markeredgecolor": "black",
    "linestyle": "none",
}


@dataclass(frozen=True)
class Chart:
    """A figure ready for an ``<img>``: its data URI, size in CSS pixels, and alt text."""

    title: str
    data_uri: str
    width_px: int
    height_px: int
    alt: str
    note: str = ""


def palette(analysis: Analysis) -> dict[str, str]:
    """One colour per series name (strategy, process step, pool), the same in every figure."""
    colours = [
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
    ]
    names = analysis.series_names
    return {name: colours[i % len(colours)] for i, name in enumerate(names)}


def peak_vs_size(analysis: Analysis, budget_bytes: int) -> Chart:
    """Median peak RSS of ok runs against object size, one panel per concurrency level.

    A failed run is a cross at its last recorded peak; a killed task that recorded none (a
    Celery child the kernel killed) is a cross at the cap it was killed under (else the
    budget), so that no kill vanishes from the chart."""
    results = analysis.results
    colours = palette(analysis)
    levels = sorted({r.concurrency for r in results})
    fig = _figure(4.2)
    axes = fig.subplots(1, len(levels), sharey=True, squeeze=False)[0]
    top = max([budget_bytes, *(r.peak_rss_bytes or 0 for r in results)]) / MB * 1.12
    by_level: dict[int, list[RunResult]] = {}
    for result in results:
        by_level.setdefault(result.concurrency, []).append(result)
    for ax, level in zip(axes, levels, strict=True):
        lines, crosses = _Lines(), _Lines()
        for series, runs in analysis.group_by_series(by_level[level]).items():
            colour = colours[series.name]
            sizes, peaks = [], []
            for size, group in group_by_size(runs).items():
                peak = median_of([r for r in group if r.status == "ok"], lambda r: r.peak_rss_bytes)
                if peak is not None:
                    sizes.append(size)
                    peaks.append(peak / MB)
            lines.add(colour, sizes, peaks)
            failed = [
                (r.size_bytes, shown / MB)
                for r in runs
                if r.status not in ("ok", INFRA) and (shown := failed_peak(r, budget_bytes))
            ]
            crosses.add(colour, [x for x, _ in failed], [y for _, y in failed])
        lines.draw(ax, marker="o")
        crosses.draw(ax, **FAILED_MARKER)
        ax.axhline(budget_bytes / MB, **BUDGET_STYLE)
        _size_axis(ax, results)
        ax.set_ylim(0, top)
        ax.set_title(f"{_workers(level)} at once (peak per worker)")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("peak RSS (MB)")
    _legend(fig, colours, budget_bytes, failed_marker=True)
    return _chart(
        fig,
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
    :data:`MAX_POINTS` points, and a fixed layout instead of a constrained one."""
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
    height = PANEL_HEIGHT_IN * rows + TIMELINE_MARGIN_IN
    fig = Figure(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(
        left=0.07,
        right=0.98,
        top=1 - 0.25 / height,
        bottom=(TIMELINE_MARGIN_IN - 0.25) / height,
        hspace=0.55,
        wspace=0.25,
    )
    grid = fig.subplots(rows, columns, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax, (series, size, runs) in zip(axes, drawn, strict=False):
        peak = _timeline_panel(ax, runs, results_dir, colours[series.name])
        lines = [(budget_bytes, BUDGET_STYLE), *((cap, CAP_STYLE) for cap in caps - {budget_bytes})]
        top = peak
        for level, style in lines:
            if peak and level <= 2 * peak:
                ax.axhline(level / MB, **style)
                top = max(top, level)
        ax.set_ylim(0, top / MB * 1.1 if top else 1)
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=4)  # fewer tick labels: text is most of a panel's drawing time
        # y given: the title stays where it is put, not placed again around every tick label
        ax.set_title(f"{series.label}, {format_size(size)}", fontsize=7, loc="left", y=1.0)
    for ax in axes[len(drawn) :]:
        ax.set_visible(False)
    for row in grid:
        row[0].set_ylabel("RSS (MB)", fontsize=8)
    for ax in grid[-1]:
        ax.set_xlabel("seconds", fontsize=8)
    handles = [Line2D([], [], **BUDGET_STYLE)]
    labels = [f"budget {format_size(budget_bytes)} (drawn in panels peaking above half of it)"]
    for cap in sorted(caps - {budget_bytes}):
        handles.append(Line2D([], [], **CAP_STYLE))
        labels.append(f"cap {format_size(cap)}")
    handles.append(Line2D([], [], color="black", **FAILED_MARKER))
    labels.append("run ended here (failed)")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=8)
    return _chart(
        fig,
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
    fig = _figure(3.8)
    axes = fig.subplots(1, len(sizes), sharey=True, squeeze=False)[0]
    for ax, size in zip(axes, sizes, strict=True):
        lines, crosses = _Lines(), _Lines()
        for name in sorted({name for s, name, _ in cells if s == size}):
            xs, ys, failed = [], [], []
            for level in levels:
                runs = cells.get((size, name, level), [])
                value = median_of(runs, value_of)
                if value is None:
                    continue
                xs.append(level)
                ys.append(value / MB)
                if any(r.status not in ("ok", INFRA) for r in runs):
                    failed.append((level, value / MB))
            lines.add(colours[name], xs, ys)
            crosses.add(colours[name], [x for x, _ in failed], [y for _, y in failed])
        lines.draw(ax, marker="o")
        crosses.draw(ax, **FAILED_MARKER)
        ax.plot(levels, [level * budget_bytes / MB for level in levels], color="#999", ls="--")
        ax.set_xticks(levels)
        ax.set_xlabel("workers at once")
        ax.set_title(format_size(size))
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("node resident peak (MB)" if charged else "aggregate peak RSS (MB)")
    extra: tuple[list[Artist], list[str]] = (
        [Line2D([], [], color="#999", ls="--")],
        ["workers \u00d7 budget"],
    )
    _legend(fig, colours, None, failed_marker=True, extra=extra)
    if charged:
        return _chart(
            fig,
            "Node resident peak against concurrency",
            "The node's resident peak as the kernel charges it (its cgroup's memory without "
            "page cache, or the sum of its processes' PSS) against the number of workers, per "
            "size.",
        )
    return _chart(
        fig,
        "Aggregate peak against concurrency",
        "Largest sum of the workers' simultaneous RSS against the number of workers, per size.",
    )


class _Lines:
    """The lines of many series drawn as one artist per colour, series apart by NaN gaps: an
    artist per series costs more than all their points once series are in the hundreds."""

    def __init__(self) -> None:
        self._points: dict[str, tuple[list[float], list[float]]] = {}

    def add(self, colour: str, xs: Sequence[float], ys: Sequence[float]) -> None:
        if xs:
            held_x, held_y = self._points.setdefault(colour, ([], []))
            held_x += [*xs, math.nan]
            held_y += [*ys, math.nan]

    def draw(self, ax: Axes, **style: Any) -> None:
        for colour, (xs, ys) in self._points.items():
            ax.plot(xs, ys, **{"color": colour, **style})


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
    fig = _figure(3.8)
    axes = fig.subplots(1, len(levels), sharey=True, squeeze=False)[0]
    width = 0.8 / len(names)
    cells: dict[tuple[int, str, int], list[RunResult]] = {}
    for result in results:
        key = (result.concurrency, analysis.series_of(result).name, result.size_bytes)
        cells.setdefault(key, []).append(result)
    for ax, level in zip(axes, levels, strict=True):
        xs: list[float] = []
        heights: list[float] = []
        colour_of_bar: list[str] = []
        for index, name in enumerate(names):
            for column, size in enumerate(sizes):
                runs = cells.get((level, name, size), [])
                ok = [r for r in runs if r.status == "ok"]
                value = median_of(ok, lambda r: r.throughput_mb_s)
                x = column - 0.4 + width * (index + 0.5)
                if value is not None:
                    xs.append(x)
                    heights.append(value)
                    colour_of_bar.append(colours[name])
                elif runs:
                    why = "/".join(sorted({r.status for r in runs} - {"ok"})) or "no download"
                    ax.text(x, 2, why, rotation=90, ha="center", va="bottom", fontsize=7)
        if xs:  # one call for all bars: a call per bar costs seconds with hundreds
            ax.bar(xs, heights, width=width, color=colour_of_bar)
        ax.set_xticks(range(len(sizes)), [format_size(s) for s in sizes])
        ax.set_xlim(-0.5, len(sizes) - 0.5)
        ax.set_title(f"{_workers(level)} at once (per worker)")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("throughput (MB/s)")
    _legend(fig, colours, None, failed_marker=False, bars=True)
    return _chart(
        fig,
        "Throughput",
        "Median fetch throughput per worker for each strategy and size (MB = 10^6 bytes); "
        "a gap is labelled with the failed status, or 'no download'.",
    )


def retained_vs_task_index(analysis: Analysis) -> Chart:
    """Celery: what a long-lived child keeps after each task (solid) and each task's own peak
    (dashed), against how many tasks the child had run before, per configuration."""
    colours = palette(analysis)
    fig = _figure(3.8)
    ax = fig.subplots()
    by_name: dict[str, dict[int, list[RunResult]]] = {}
    for run in analysis.results:
        if run.task_index is not None:
            by_task = by_name.setdefault(analysis.series_of(run).name, {})
            by_task.setdefault(run.task_index, []).append(run)
    for name, by_task in sorted(by_name.items()):
        indexes = sorted(by_task)
        kept = [median_of(by_task[i], _retained) for i in indexes]
        peaks = [median_of(by_task[i], _peak) for i in indexes]
        ax.plot(
            [i for i, v in zip(indexes, kept, strict=True) if v is not None],
            [v / MB for v in kept if v is not None],
            marker="o",
            color=colours[name],
            label=name,
        )
        ax.plot(
            [i for i, v in zip(indexes, peaks, strict=True) if v is not None],
            [v / MB for v in peaks if v is not None],
            color=colours[name],
            ls="--",
            alpha=0.6,
        )
    ax.set_xlabel("tasks the child ran before this one")
    ax.set_ylabel("RSS (MB)")
    ax.grid(True, alpha=0.3)
    extra: tuple[list[Artist], list[str]] = (
        [Line2D([], [], color="#555", marker="o"), Line2D([], [], color="#555", ls="--")],
        ["kept after the task", "the task's peak"],
    )
    _legend(fig, colours, None, failed_marker=False, extra=extra)
    return _chart(
        fig,
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


def _timeline_panel(ax: Axes, runs: Sequence[RunResult], results_dir: Path, colour: str) -> float:
    """Draw a panel's runs (at most :data:`MAX_RUNS_PER_PANEL`: failed ones first, then the
    highest peaks) and return the highest RSS drawn, in bytes (0 when nothing was)."""
    drawn = 0
    peak = 0.0
    shown = sorted(runs, key=lambda r: (r.status == "ok", -(r.peak_rss_bytes or 0)))
    # Every run's line in one artist, split by NaN gaps: one line per run costs more in
    # matplotlib than drawing all their points.
    xs: list[float] = []
    ys: list[float] = []
    ends: list[tuple[float, float]] = []
    for run in shown[:MAX_RUNS_PER_PANEL]:
        points = read_timeline(results_dir, run.timeline_file) if run.timeline_file else []
        if not points:
            continue
        drawn += 1
        points = downsample(points, MAX_POINTS)
        peak = max(peak, max(m for _, m in points) * MB)
        xs += [t for t, _ in points] + [math.nan]
        ys += [m for _, m in points] + [math.nan]
        if run.status != "ok":
            ends.append(points[-1])
    if drawn:
        ax.plot(xs, ys, color=colour, lw=0.9, alpha=0.8)
    if ends:
        ax.plot([t for t, _ in ends], [m for _, m in ends], color=colour, **FAILED_MARKER)
    statuses = sorted({r.status for r in runs})
    if not runs:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    elif not drawn:
        ax.text(0.5, 0.5, "no timeline", ha="center", va="center", transform=ax.transAxes)
    if statuses and statuses != ["ok"]:
        ax.text(
            0.03,
            0.9,
            "/".join(statuses),
            ha="left",
            va="top",
            transform=ax.transAxes,
            fontsize=8,
            color="#7f1d1d",
            fontweight="bold",
        )
    if len(shown) > MAX_RUNS_PER_PANEL:
        ax.text(
            0.97,
            0.04,
            f"{MAX_RUNS_PER_PANEL} of {len(shown)} runs",
            ha="right",
            va="bottom",
            transform=ax.transAxes,
            fontsize=6,
            color="#555",
        )
    return peak


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


def _size_axis(ax: Axes, results: Sequence[RunResult]) -> None:
    sizes = sorted({r.size_bytes for r in results})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [format_size(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlim(sizes[0] / 1.6, sizes[-1] * 1.6)
    ax.set_xlabel("object size (log scale)")


def _legend(
    fig: Figure,
    colours: dict[str, str],
    budget_bytes: int | None,
    failed_marker: bool,
    extra: tuple[list[Artist], list[str]] = ([], []),
    bars: bool = False,
) -> None:
    handles: list[Artist] = [
        Patch(color=c) if bars else Line2D([], [], color=c, marker="o") for c in colours.values()
    ]
    labels = list(colours)
    if budget_bytes is not None:
        handles.append(Line2D([], [], **BUDGET_STYLE))
        labels.append(f"budget {format_size(budget_bytes)}")
    if failed_marker:
        handles.append(Line2D([], [], color="white", **FAILED_MARKER))
        labels.append("failed run (oom, error, timeout)")
    handles += extra[0]
    labels += extra[1]
    columns = len(labels) if len(labels) <= 6 else math.ceil(len(labels) / 2)
    # As many columns as fit the figure's width, and the figure made taller for the rows past
    # two, so that no entry is cut off however many series there are.
    widest = max(len(label) for label in labels) * LEGEND_CHAR_IN + LEGEND_HANDLE_IN
    columns = max(1, min(columns, int(WIDTH_IN / widest)))
    rows = math.ceil(len(labels) / columns)
    if rows > 2:
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + (rows - 2) * LEGEND_ROW_IN)
    fig.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False)


def _workers(level: int) -> str:
    return "1 worker" if level == 1 else f"{level} workers"


def _figure(height_in: float) -> Figure:
    return Figure(figsize=(WIDTH_IN, height_in), layout="constrained")


def _chart(fig: Figure, title: str, alt: str, note: str = "") -> Chart:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = fig.get_size_inches()
    return Chart(
        title=title,
        data_uri=f"data:image/png;base64,{encoded}",
        width_px=round(width * 100),
        height_px=round(height * 100),
        alt=alt,
        note=note,
    )


def peak_history(
    run_names: Sequence[str],
    series: dict[str, list[float | None]],
    steps: dict[str, list[int]],
) -> Chart:
    """Median peak of each case over the runs, in order; change points as dashed verticals."""
    fig = _figure(4.2)
    ax = fig.subplots()
    xs = list(range(len(run_names)))
    for name, levels in series.items():
        points = [(x, level / MB) for x, level in zip(xs, levels, strict=True) if level]
        (line,) = ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=name)
        for index in steps.get(name, []):
            ax.axvline(index - 0.5, color=line.get_color(), linestyle="--", linewidth=1)
    ax.set_xticks(xs, run_names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("median peak RSS (MB)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _chart(
        fig,
        "Peak RSS over the runs",
        "Median peak RSS of each case in each results directory, in the order given; dashed "
        "lines mark where a new level starts.",
    )
