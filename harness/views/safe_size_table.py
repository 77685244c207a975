"""The terminal view of ``memharness limits``: a table of the searches, then the rules a team
pastes into its worker (a view: it reads ``limits.jsonl`` records, never measures)."""

from __future__ import annotations

from collections.abc import Sequence

from memharness_s3.analysis.safe_size import tries_text
from memharness_s3.analysis.safe_size_rules import HEADERS, cells, rules
from memharness_s3.printable import printable
from memharness_s3.results.safe_sizes import SizeLimit

_RIGHT = {"workers"}


def render(limits: Sequence[SizeLimit]) -> str:
    """The table, each search's early stop if any, and the rules."""
    if not limits:
        return "no search finished"
    rows = [list(HEADERS), *([printable(cell, 200) for cell in cells(lim)] for lim in limits)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    tries = sorted({limit.tries for limit in limits})
    lines = [
        "Largest safe size: the largest object size tried with no worker killed in "
        + " or ".join(map(tries_text, tries))
    ]
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.rjust(width) if name in _RIGHT else cell.ljust(width)
                for cell, width, name in zip(row, widths, HEADERS, strict=True)
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append(
        "peak there = the highest peak at the largest safe size of what the limit caps (the "
        "node's charged peak, node scope; a worker's peak RSS, worker scope), as a share of it"
    )
    lines += ["", "In your worker:"]
    lines += [f"  {printable(rule, 1000)}" for rule in rules(limits)]
    return "\n".join(lines)
