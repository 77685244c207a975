"""Inline SVG for the report's charts: scales with nice ticks, panels with axes, lines, markers,
reference lines, text, and legends as HTML that wraps instead of cutting entries.

The charts are embedded as markup, so autoescaping does not reach inside them: every text and
attribute value that can come from a results file (strategy names, object keys, statuses) goes
through :func:`escape` here, and nothing else writes into the markup. Coordinates are rounded
to whole pixels (one decimal for small marks) to keep pages of many panels small.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
CHAR_WIDTH = 0.6
"""Width of an average character as a share of the font size (for layout estimates)."""
GRID = "#e1e4e8"
AXIS = "#6e7781"
TEXT = "#1f2328"
DASHED = "6 3"
DOTTED = "2 2"
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: object) -> str:
    """``text`` as XML/HTML character data or an attribute value: ``& < > " '`` escaped and
    characters XML forbids (control characters, lone surrogates) dropped."""
    return html.escape(_NOT_XML.sub("", str(text)), quote=True)


def number(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ``.0``."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def text_width(text: str, size: float) -> float:
    """An estimate of a text's width in pixels at font size ``size``."""
    return len(text) * size * CHAR_WIDTH


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2, 2.5 or 5 times a power of ten) between
    ``low`` and ``high`` inclusive."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * 1.0000001)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick's label with as many decimals as the step between ticks needs, thousands split."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(value) or 1.0
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return f"{value:,.{decimals}f}"


@dataclass(frozen=True)
class Scale:
    """Data values from ``low`` to ``high`` onto pixels from ``start`` to ``end`` (``end`` above
    ``start`` for a vertical axis), linearly or by logarithm."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, value = (
            (math.log(self.low), math.log(self.high), math.log(value))
            if self.log
            else (self.low, self.high, value)
        )
        share = (value - low) / (high - low) if high != low else 0.5
        return self.start + share * (self.end - self.start)


@dataclass(frozen=True)
class Stroke:
    """How a line is drawn: colour, width, dash pattern (``DASHED``, ``DOTTED``) and opacity."""

    colour: str
    width: float = 1.5
    dash: str | None = None
    opacity: float = 1.0

    def attributes(self) -> str:
        text = f'fill="none" stroke="{escape(self.colour)}" stroke-width="{number(self.width)}"'
        if self.dash:
            text += f' stroke-dasharray="{escape(self.dash)}"'
        if self.opacity < 1:
            text += f' stroke-opacity="{number(self.opacity)}"'
        return text


BUDGET = Stroke("#c0392b", 1.2, DASHED)
CAP = Stroke("#7f1d1d", 1.2, DOTTED)


@dataclass
class Canvas:
    """The elements of one ``<svg>``, in drawing order."""

    width: int
    height: int
    parts: list[str] = field(default_factory=list)

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: Stroke) -> None:
        self.parts.append(
            f'<line x1="{number(x1)}" y1="{number(y1)}" x2="{number(x2)}" y2="{number(y2)}" '
            f"{stroke.attributes()}/>"
        )

    def polylines(self, lines: Iterable[Sequence[tuple[float, float]]], stroke: Stroke) -> None:
        """Many lines of one style as one path, each a subpath; whole-pixel coordinates, with a
        point that rounds onto the one before it left out."""
        subpaths = []
        for points in lines:
            kept: list[str] = []
            last = None
            for x, y in points:
                pixel = (round(x), round(y))
                if pixel != last:
                    kept.append(f"{pixel[0]} {pixel[1]}")
                    last = pixel
            if len(kept) == 1:
                kept.append(kept[0])  # a single sample: still a (zero-length) mark
            if kept:
                subpaths.append("M" + " ".join(kept))
        if subpaths:
            self.parts.append(
                f'<path d="{"".join(subpaths)}" {stroke.attributes()} stroke-linejoin="round"/>'
            )

    def dots(self, points: Iterable[tuple[float, float]], colour: str, radius: float = 3) -> None:
        for x, y in points:
            self.parts.append(
                f'<circle cx="{number(x)}" cy="{number(y)}" r="{number(radius)}" '
                f'fill="{escape(colour)}"/>'
            )

    def crosses(self, points: Iterable[tuple[float, float]], colour: str) -> None:
        """The failed-run marker: a cross in the series' colour outlined in black."""
        d = "".join(f"M{number(x - 4)} {number(y - 4)}l8 8m0-8l-8 8" for x, y in points)
        if d:
            self.parts.append(f'<path d="{d}" fill="none" stroke="#000" stroke-width="4.5"/>')
            self.parts.append(
                f'<path d="{d}" fill="none" stroke="{escape(colour)}" stroke-width="2.5"/>'
            )

    def rect(self, x: float, y: float, width: float, height: float, colour: str) -> None:
        self.parts.append(
            f'<rect x="{number(x)}" y="{number(y)}" width="{number(width)}" '
            f'height="{number(height)}" fill="{escape(colour)}"/>'
        )

    def text(
        self,
        x: float,
        y: float,
        content: str,
        size: float = 11,
        anchor: str = "start",
        colour: str = TEXT,
        bold: bool = False,
        rotate: float = 0,
        max_width: float | None = None,
    ) -> None:
        """A text; past ``max_width`` pixels (estimated) it is shortened with an ellipsis and
        the whole of it kept as a tooltip (``<title>``)."""
        shown = content
        if max_width is not None and text_width(content, size) > max_width:
            keep = max(1, int(max_width / (size * CHAR_WIDTH)) - 1)
            shown = content[:keep] + "\u2026"
        attributes = f'x="{number(x)}" y="{number(y)}" font-size="{number(size)}"'
        if anchor != "start":
            attributes += f' text-anchor="{escape(anchor)}"'
        if colour != TEXT:
            attributes += f' fill="{escape(colour)}"'
        if bold:
            attributes += ' font-weight="bold"'
        if rotate:
            attributes += f' transform="rotate({number(rotate)} {number(x)} {number(y)})"'
        tooltip = f"<title>{escape(content)}</title>" if shown != content else ""
        self.parts.append(f"<text {attributes}>{tooltip}{escape(shown)}</text>")

    def render(self, title: str, description: str) -> str:
        """The ``<svg>`` element: an image to assistive technology, titled and described, and
        scaled down with the page."""
        return (
            f'<svg class="chart" role="img" '
            f'aria-label="{escape(description)}" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" font-family="{escape(FONT)}" '
            f'style="max-width:100%;height:auto">'
            f"<title>{escape(title)}</title>" + "".join(self.parts) + "</svg>"
        )


@dataclass(frozen=True)
class Panel:
    """A plot area on a canvas: its scales map data into it."""

    x: Scale
    y: Scale

    @property
    def left(self) -> float:
        return min(self.x.start, self.x.end)

    @property
    def right(self) -> float:
        return max(self.x.start, self.x.end)

    @property
    def top(self) -> float:
        return min(self.y.start, self.y.end)

    @property
    def bottom(self) -> float:
        return max(self.y.start, self.y.end)

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.x(x), self.y(y)


def draw_axes(
    canvas: Canvas,
    panel: Panel,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
    size: float = 10,
    y_labels: bool = True,
    x_label_rotate: float = 0,
    x_label_width: float = 120,
) -> None:
    """The panel's frame, light horizontal lines at the y ticks, and the tick labels (the y
    ones only with ``y_labels``; an x one that would overlap the one before it left out). Slanted
    x labels (``x_label_rotate`` degrees) are shortened past ``x_label_width`` pixels."""
    for value, label in y_ticks:
        y = panel.y(value)
        canvas.line(panel.left, y, panel.right, y, Stroke(GRID, 1))
        if y_labels:
            canvas.text(panel.left - 4, y + size * 0.35, label, size, "end", AXIS)
    free_from = -math.inf
    for value, label in x_ticks:
        x = panel.x(value)
        if x_label_rotate:
            canvas.text(
                x,
                panel.bottom + size + 2,
                label,
                size,
                "end",
                AXIS,
                rotate=x_label_rotate,
                max_width=x_label_width,
            )
            continue
        half = text_width(label, size) / 2
        if x - half < free_from:
            continue
        canvas.text(x, panel.bottom + size + 3, label, size, "middle", AXIS)
        free_from = x + half + 4
    canvas.parts.append(
        f'<rect x="{number(panel.left)}" y="{number(panel.top)}" '
        f'width="{number(panel.right - panel.left)}" height="{number(panel.bottom - panel.top)}" '
        f'fill="none" stroke="{AXIS}" stroke-width="1"/>'
    )


def reference_line(
    canvas: Canvas, panel: Panel, value: float, stroke: Stroke, label: str = "", size: float = 9
) -> None:
    """A horizontal line across the panel at ``value``, labelled at its right end."""
    y = panel.y(value)
    canvas.line(panel.left, y, panel.right, y, stroke)
    if label:
        canvas.text(panel.right - 3, y - 3, label, size, "end", stroke.colour)


def linear_ticks(low: float, high: float, count: int = 5) -> list[tuple[float, str]]:
    ticks = nice_ticks(low, high, count)
    return [(value, tick_label(value, ticks)) for value in ticks]


@dataclass(frozen=True)
class LegendEntry:
    """One legend entry: its label and how its swatch looks."""

    label: str
    colour: str
    kind: str = "line"
    """``line`` (optionally with a dot), ``bar``, ``cross`` or ``dot``."""
    dash: str | None = None
    dot: bool = False
    opacity: float = 1.0


def legend_html(entries: Sequence[LegendEntry]) -> str:
    """The legend as an HTML list that wraps onto as many rows as its entries need."""
    if not entries:
        return ""
    items = []
    for entry in entries:
        items.append(
            '<li style="white-space:nowrap"><svg width="26" height="12" aria-hidden="true" '
            f'style="vertical-align:middle;margin-right:4px">{_swatch(entry)}</svg>'
            f"{escape(entry.label)}</li>"
        )
    return (
        '<ul class="legend" style="display:flex;flex-wrap:wrap;gap:2px 16px;list-style:none;'
        'padding:0;margin:4px 0 6px;font-size:12px">' + "".join(items) + "</ul>"
    )


def _swatch(entry: LegendEntry) -> str:
    colour = escape(entry.colour)
    if entry.kind == "bar":
        return f'<rect x="5" y="1" width="16" height="10" fill="{colour}"/>'
    if entry.kind == "cross":
        d = "M9 2l8 8m0-8l-8 8"
        return (
            f'<path d="{d}" stroke="#000" stroke-width="4.5"/>'
            f'<path d="{d}" stroke="{colour}" stroke-width="2.5"/>'
        )
    stroke = Stroke(entry.colour, 1.8, entry.dash, entry.opacity)
    line = f'<line x1="0" y1="6" x2="26" y2="6" {stroke.attributes()}/>'
    dot = f'<circle cx="13" cy="6" r="3" fill="{colour}"/>' if entry.dot else ""
    return ("" if entry.kind == "dot" else line) + dot


def figure_markup(svg: str, legend: Sequence[LegendEntry]) -> Markup:
    """A chart's ``<svg>`` and its legend, as markup a template embeds as it is: every text in
    it was escaped by this module."""
    return Markup(svg + legend_html(legend))
