"""The report's "Largest safe size" section: what ``memharness limits`` found, read from the
results directory's ``limits.jsonl`` (none when the directory has no such file).

The cells and the rules are the terminal table's (``analysis.safe_size_rules``), so the two
views cannot disagree; the section adds each search's probes, size by size, with the share of
workers killed at each: the kill rate between the largest safe size and the sizes that always
kill.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memharness_s3.analysis.safe_size import tries_text
from memharness_s3.analysis.safe_size_rules import HEADERS, cells, rules
from memharness_s3.config.sizes import format_size
from memharness_s3.results import safe_sizes
from memharness_s3.results.safe_sizes import SizeLimit


@dataclass(frozen=True)
class Row:
    cells: list[str]
    probes: list[str]
    """Every size tried, smallest first, with the workers killed there."""
    stopped: str | None


@dataclass(frozen=True)
class Section:
    headers: tuple[str, ...]
    rows: list[Row]
    rules: list[str]
    note: str


def section(results_dir: Path) -> Section | None:
    """The section for ``results_dir``, or None when no search was run into it."""
    limits = safe_sizes.load(results_dir)
    if not limits:
        return None
    tries = " or ".join(tries_text(n) for n in sorted({limit.tries for limit in limits}))
    note = (
        "Found by memharness limits: for each strategy, workers at once and memory limit, "
        "object sizes were bisected between the smallest and the largest size tried, "
        f"{tries} at each size. Largest safe = the largest size with no worker killed in any "
        "try, and peak there its highest peak of what the limit caps (the node's charged peak "
        "for a node-scoped limit, a worker's peak RSS for a per-worker one) as a share of the "
        "limit: how close to a kill the safe size ran; smallest killed = the smallest size with "
        "a kill, and how many workers died there. "
        "Runs the harness's own setup broke (infra) never count as kills. Sizes tried are "
        "listed with the workers killed at each; nothing is said of sizes not tried."
    )
    rows = [Row(cells(limit), _probes(limit), limit.stopped) for limit in limits]
    return Section(HEADERS, rows, rules(limits), note)


def _probes(limit: SizeLimit) -> list[str]:
    """``10 MB: 0 of 12 killed``, ``62 MB: 2 of 12 killed`` ..., smallest first."""
    shown = []
    for probe in sorted(limit.probes, key=lambda p: p.size_bytes):
        counted = f"{probe.killed_tasks} of {probe.tasks} killed"
        if probe.infra_runs or probe.failed_runs:
            counted += f", {probe.describe().split(': ', 1)[1]}"
        shown.append(f"{format_size(probe.size_bytes)}: {counted}")
    return shown
