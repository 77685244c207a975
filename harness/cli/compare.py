"""``memharness compare DIR DIR [DIR ...]``: a case's peak over several runs, and its steps.

The directories are taken in the order given (e.g. one per commit, oldest first). Cases are
matched by their identity (``analysis.identity``) and named as every view names them. Per case:
the median peak of each run and the change points of that series (``analysis.changes``). Exit
status 1 when the last run starts a new step upwards in any case, 0 otherwise, 2 for bad input.
``--html FILE`` writes the table and a chart of peak over the runs with the steps marked.
"""

from __future__ import annotations

import argparse
import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memharness_s3.errors import UsageError
from memharness_s3.paths import write_no_follow
from memharness_s3.printable import printable

if TYPE_CHECKING:
    from memharness_s3.analysis.identity import CaseKey

NAME_WIDTH = 40
"""Characters of a run's name in the table (a directory's name is usually a UTC time, 16)."""
NAME = "compare"
HELP = "median peak per case over several results directories, with change points (exit 1: step up)"


@dataclass(frozen=True)
class History:
    """One case over the runs: its median peak and spread in each (None where it did not run)."""

    name: str
    levels: list[float | None]
    spreads: list[float | None]
    steps: list[tuple[int, float, float]]
    """(run index, level before, level after) of each change point."""
    last_step_up: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dirs", nargs="+", type=Path, metavar="DIR", help="results directories, in order"
    )
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML page here")


def run(args: argparse.Namespace) -> int:
    if len(args.dirs) < 2:
        raise UsageError("compare needs at least two results directories, oldest first")
    histories = histories_of(args.dirs)
    if not histories:
        raise UsageError("no case ran in two or more of these directories: nothing to compare")
    names = run_names(args.dirs)
    text = render_text(names, histories)
    print(text)
    if args.html is not None:
        write_html(args.html, names, histories, text)
    return 1 if any(h.last_step_up for h in histories) else 0


def histories_of(dirs: list[Path]) -> list[History]:
    """Every case that ran in at least two of ``dirs``, with its levels and change points.

    A case is followed by its identity; where a run has none of that identity but exactly one
    case in the same slot (the same but for strategy parameters), and every run has at most
    one, that case continues the history, as the gate pairs a changed parameter with its
    baseline: a parameter change between commits then shows as a step, not as a new case.
    """
    from memharness_s3.analysis.identity import labels

    # One directory at a time, each reduced to its cases' levels before the next is read:
    # memory is one directory's, not all of them at once.
    found = [_levels_of(path) for path in dirs]
    chains: dict[CaseKey, list[Level | None]] = {}
    slots: dict[CaseKey, list[list[Level]]] = {}
    for index, levels in enumerate(found):
        for case in levels:
            slots.setdefault(case.key.slot, [[] for _ in found])[index].append(case)
    for per_run in slots.values():
        if all(len(cases) <= 1 for cases in per_run):
            newest = next(cases[0] for cases in reversed(per_run) if cases)
            chains[newest.key] = [cases[0] if cases else None for cases in per_run]
            continue
        for index, cases in enumerate(per_run):
            for case in cases:
                chains.setdefault(case.key, [None] * len(found))[index] = case
    names = labels(chains)
    return [
        history
        for key in sorted(chains)
        if (history := _history(names[key], chains[key], len(dirs))) is not None
    ]


@dataclass(frozen=True)
class Level:
    """What compare keeps of a case in one directory: its median ok peak and their spread."""

    key: CaseKey
    median_peak: float | None
    spread: float | None
    """Max - min of the ok peaks; None without an ok peak."""


def _levels_of(path: Path) -> list[Level]:
    """Each case's level in the directory at ``path``, read in one pass that keeps only each
    case's ok peaks (the median and spread ``CaseRuns`` gives), never its results."""
    import statistics

    from memharness_s3.analysis.identity import ResultKeys
    from memharness_s3.results.loader import each_result

    key_of = ResultKeys()
    peaks: dict[CaseKey, list[int]] = {}
    for result in each_result(path):
        ok_peaks = peaks.setdefault(key_of(result), [])
        if result.status == "ok" and result.peak_rss_bytes is not None:
            ok_peaks.append(result.peak_rss_bytes)
    return [
        Level(key, statistics.median(ok), float(max(ok) - min(ok)))
        if ok
        else Level(key, None, None)
        for key, ok in peaks.items()
    ]


def _history(name: str, found: list[Level | None], runs: int) -> History | None:
    from memharness_s3.analysis.changes import change_points, last_run_steps_up

    levels = [c.median_peak if c else None for c in found]
    spreads = [c.spread if c else None for c in found]
    present = [i for i, level in enumerate(levels) if level is not None]
    if len(present) < 2:
        return None
    series = [float(levels[i] or 0) for i in present]
    noise = [spreads[i] or 0.0 for i in present]
    steps = [
        (present[step.index], step.before, step.after) for step in change_points(series, noise)
    ]
    last = present[-1] == runs - 1 and last_run_steps_up(series, noise) is not None
    return History(name, levels, spreads, steps, last)


def run_names(dirs: list[Path]) -> list[str]:
    """What the runs are called: each directory's name, or its path where names repeat (two
    ``results`` folders), made printable; numbered where they still collide."""
    names = [path.name or str(path) for path in dirs]
    if len(set(names)) < len(names):
        names = [str(path) for path in dirs]
    names = [printable(name, NAME_WIDTH) for name in names]
    if len(set(names)) < len(names):
        names = [f"{index}:{name}" for index, name in enumerate(names, start=1)]
    return names


def render_text(run_names: list[str], histories: list[History]) -> str:
    from memharness_s3.config.sizes import format_mb

    names = {h.name: printable(h.name) for h in histories}
    width = max(len(name) for name in names.values())
    widths = [max(12, len(name)) for name in run_names]
    header = f"{'case':{width}}  " + "  ".join(
        f"{name:>{w}}" for name, w in zip(run_names, widths, strict=True)
    )
    lines = [header + "  steps", "-" * len(header)]
    for h in histories:
        cells = "  ".join(
            f"{format_mb(level):>{w}}" for level, w in zip(h.levels, widths, strict=True)
        )
        steps = ", ".join(
            f"at {run_names[index]}: {format_mb(before)} -> {format_mb(after)} MB"
            for index, before, after in h.steps
        )
        lines.append(f"{names[h.name]:{width}}  {cells}  {steps or '-'}")
    up = [h for h in histories if h.last_step_up]
    earlier = sum(len(h.steps) for h in histories) - len(up)
    summary = (
        f"{len(histories)} cases over {len(run_names)} runs (median peak MB, MB = 10^6 bytes); "
        f"{earlier} earlier steps"
    )
    if up:
        lines.append(
            f"FAIL: the last run ({run_names[-1]}) starts a new step upwards in "
            f"{', '.join(names[h.name] for h in up)}; {summary}"
        )
    else:
        lines.append(f"PASS: no case steps upwards in the last run ({run_names[-1]}); {summary}")
    return "\n".join(lines)


def write_html(path: Path, run_names: list[str], histories: list[History], text: str) -> None:
    from memharness_s3.views.html.charts import peak_history

    chart = peak_history(
        run_names,
        {h.name: h.levels for h in histories},
        {h.name: [index for index, _, _ in h.steps] for h in histories},
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>memharness compare</title></head><body><h1>{html.escape(chart.title)}</h1>"
        f"{chart.markup}<pre>{html.escape(text)}</pre></body></html>\n"
    )
    write_no_follow(path, page)
