"""The decision in one sentence, memory first, for a team that does not know its PDF sizes.

Which strategies fit every measured column (size x concurrency), which of them is fastest across
the columns (by the same rule as a column's star: faster than every other by more than the
spread of the repeats, summed over the columns, and never on moto; otherwise "equal within
noise"), and up to which measured size each of the others fits at each concurrency. It names
measured sizes only: nothing is said of a size no run had.
"""

from __future__ import annotations

from collections.abc import Sequence

from memharness_s3.analysis.budget_scope import SCOPES
from memharness_s3.analysis.decision import (
    FITS,
    MOTO,
    Cell,
    Column,
    Decision,
    Timed,
    fastest_of,
    scope_words,
)
from memharness_s3.config.sizes import format_size


def headline(decision: Decision) -> str:
    """The sentence (module docstring); empty when nothing was measured."""
    columns = decision.columns
    names = [s for s in decision.strategies if s not in decision.greyed]
    if not columns or not names:
        return ""
    cells = {name: {_slot(c): _cell(c, name) for c in columns} for name in names}
    everywhere = [
        n for n in names if all(cell and cell.verdict == FITS for cell in cells[n].values())
    ]
    others = [n for n in names if n not in everywhere]
    scopes = {cell.scope for column in columns for cell in column.cells}
    where = (
        f"{_span(columns)}, {format_size(decision.budget_bytes)} "
        f"{scope_words([s for s in SCOPES if s in scopes])}"
    )
    if everywhere:
        parts = [
            f"{_join(everywhere)} {'fits' if len(everywhere) == 1 else 'fit'} every measured "
            f"column ({where})"
        ]
        if len(everywhere) > 1:
            parts.append(_across(everywhere, cells, columns))
    else:
        parts = [f"No strategy fits every measured column ({where})"]
    parts += [f"{name} fits {_safe_up_to(name, columns)}" for name in others]
    return "; ".join(part for part in parts if part) + "."


def _slot(column: Column) -> tuple[int, int]:
    return column.size_bytes, column.concurrency


def _cell(column: Column, name: str) -> Cell | None:
    return next((c for c in column.cells if c.strategy == name), None)


def _span(columns: Sequence[Column]) -> str:
    sizes = sorted({c.size_bytes for c in columns})
    levels = sorted({c.concurrency for c in columns})
    span = format_size(sizes[0]) + (f" to {format_size(sizes[-1])}" if len(sizes) > 1 else "")
    return f"{span} at {_join([f'x{n}' for n in levels])}"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _across(
    names: Sequence[str],
    cells: dict[str, dict[tuple[int, int], Cell | None]],
    columns: Sequence[Column],
) -> str:
    """Which of ``names`` (each fits every column) is fastest summed over the columns."""
    timed = []
    for name in names:
        own = [cell for cell in cells[name].values() if cell is not None]
        if not all(c.downloads and c.median_wall_s is not None for c in own):
            continue
        spreads = [c.wall_spread_s for c in own]
        timed.append(
            Timed(
                name,
                sum(c.median_wall_s or 0.0 for c in own),
                None if None in spreads else sum(s or 0.0 for s in spreads),
            )
        )
    moto = any(cell.backend == MOTO for column in columns for cell in column.cells)
    speed = fastest_of(timed, moto)
    if speed.fastest is not None and len(timed) > 1:
        wall = next(t.wall_s for t in timed if t.name == speed.fastest)
        return f"{speed.fastest} is the fastest of them ({wall:.2f} s summed over the columns)"
    if speed.tied:
        return f"{_join(list(speed.tied))} are equal within noise in speed ({speed.why})"
    return ""


def _safe_up_to(name: str, columns: Sequence[Column]) -> str:
    """Per concurrency, the largest measured size up to which every measured size fits."""
    levels = sorted({c.concurrency for c in columns})
    said = []
    for level in levels:
        own = sorted(
            (
                (c.size_bytes, cell)
                for c in columns
                if c.concurrency == level and (cell := _cell(c, name))
            ),
            key=lambda pair: pair[0],
        )
        if not own:
            continue
        largest = None
        stop: tuple[int, Cell] | None = None
        for size, cell in own:
            if cell.verdict != FITS:
                stop = (size, cell)
                break
            largest = size
        if stop is None:
            said.append(f"at measured sizes up to {format_size(own[-1][0])} at x{level} (all)")
            continue
        size, cell = stop
        why = f"{cell.text} at {format_size(size)}"
        if largest is None:
            said.append(f"at no measured size at x{level} ({why})")
        else:
            said.append(f"at measured sizes up to {format_size(largest)} at x{level} ({why})")
    return _join(said) if said else "at no measured size"
