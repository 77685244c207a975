"""What ``memharness limits`` found, said the same way in the terminal and in the report.

:func:`cells` gives one search's columns; :func:`rules` turns a set of searches into the lines a
team pastes into its worker: for each number of workers under each budget, which strategy up to
which size, and which one above it ("read-all up to 53 MB at 4 workers in 512 MiB shared by the
node, else chunked"). A rule only names sizes that were measured: the largest size with no kill,
and the largest size tried when nothing was killed; a search that stopped early says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from memharness_s3.config.sizes import format_budget, format_size
from memharness_s3.results.safe_sizes import SizeLimit

HEADERS = (
    "strategy",
    "workers",
    "budget",
    "largest safe",
    "peak there",
    "smallest killed",
    "killed there",
)


def largest_safe(limit: SizeLimit) -> str:
    """``53 MB``; ``2 GB (largest tried)``; ``none: killed at 10 MB``."""
    if limit.largest_ok_bytes is None:
        if limit.smallest_killed_bytes is not None:
            return f"none: killed at {format_size(limit.smallest_killed_bytes)}"
        return "not settled"
    size = format_size(limit.largest_ok_bytes)
    return f"{size} (largest tried)" if limit.unlimited else size


def peak_at_largest_safe(limit: SizeLimit) -> str:
    """``513 MB (96 %)``: the highest peak of what the limit caps at the largest safe size, and
    its share of the limit (how close to a kill the safe size ran), or ``-``."""
    probe = next((p for p in limit.probes if p.size_bytes == limit.largest_ok_bytes), None)
    if probe is None or probe.peak_bytes is None:
        return "-"
    return f"{format_size(probe.peak_bytes)} ({probe.peak_bytes / limit.memory_limit_bytes:.0%})"


def smallest_killed(limit: SizeLimit) -> str:
    if limit.smallest_killed_bytes is None:
        return f"none up to {format_size(limit.largest_ok_bytes or limit.max_size_bytes)}"
    return format_size(limit.smallest_killed_bytes)


def kill_rate(limit: SizeLimit) -> str:
    """``2 of 12 workers`` at the smallest killed size, or ``-``."""
    if limit.killed_tasks is None or limit.tasks is None:
        return "-"
    return f"{limit.killed_tasks} of {limit.tasks} workers"


def cells(limit: SizeLimit) -> list[str]:
    """One search as the columns of :data:`HEADERS`."""
    return [
        limit.strategy,
        str(limit.concurrency),
        format_budget(limit.memory_limit_bytes, limit.memory_scope),
        largest_safe(limit),
        peak_at_largest_safe(limit),
        smallest_killed(limit),
        kill_rate(limit),
    ]


def _setting(limit: SizeLimit) -> str:
    workers = "1 worker" if limit.concurrency == 1 else f"{limit.concurrency} workers at once"
    return f"{workers} in {format_budget(limit.memory_limit_bytes, limit.memory_scope)}"


def rules(limits: Sequence[SizeLimit]) -> list[str]:
    """One line per strategy with a limit (or an early stop), grouped by workers and budget, in
    the order searched; a group where nothing was killed gets one line saying so, and one where
    every strategy was killed somewhere a last line saying that."""
    groups: dict[tuple[int, int, str], list[SizeLimit]] = {}
    for limit in limits:
        key = (limit.concurrency, limit.memory_limit_bytes, limit.memory_scope)
        groups.setdefault(key, []).append(limit)
    lines: list[str] = []
    for group in groups.values():
        setting = _setting(group[0])
        unlimited = [limit.strategy for limit in group if limit.unlimited]
        limited = [limit for limit in group if not limit.unlimited]
        limited.sort(key=lambda limit: -(limit.largest_ok_bytes or 0))
        lines += [_rule(limit, setting, unlimited) for limit in limited]
        largest = format_size(group[0].max_size_bytes)
        if unlimited and not limited:
            lines.append(
                f"{' and '.join(unlimited)} at {setting}: no kill up to {largest}, the largest "
                "size tried"
            )
        if not unlimited:
            lines.append(
                f"at {setting}, no strategy searched was safe at every size up to {largest}"
            )
    return lines


def _rule(limit: SizeLimit, setting: str, unlimited: list[str]) -> str:
    """The line of a strategy that was killed somewhere (or whose search stopped)."""
    if limit.stopped is not None:
        so_far = (
            f"no kill up to {format_size(limit.largest_ok_bytes)} so far"
            if limit.largest_ok_bytes
            else "nothing settled"
        )
        return f"{limit.strategy} at {setting}: search stopped ({limit.stopped}); {so_far}"
    if limit.largest_ok_bytes is None:
        return (
            f"{limit.strategy} at {setting}: killed even at the smallest size tried, "
            f"{format_size(limit.smallest_killed_bytes or limit.min_size_bytes)}"
        )
    rule = f"{limit.strategy} up to {format_size(limit.largest_ok_bytes)} at {setting}"
    if unlimited:
        return f"{rule}, else {' or '.join(unlimited)}"
    return f"{rule} (killed at {format_size(limit.smallest_killed_bytes or 0)})"
