"""The SVG primitives the charts are drawn with: ticks, scales, escaping, compact paths, legends."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import pytest

from memharness_s3.views.html import svg

HOSTILE = "<script>alert(1)</script> \"&' \x01"


@pytest.mark.parametrize(
    ("low", "high"), [(0, 563.2), (0, 1.0), (0.0, 0.213), (3, 7), (0, 12_345), (-2.5, 40)]
)
def test_nice_ticks_are_round_evenly_spaced_and_inside_the_range(low: float, high: float) -> None:
    ticks = svg.nice_ticks(low, high, 5)
    assert 3 <= len(ticks) <= 11
    assert low <= ticks[0] and ticks[-1] <= high
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)


def test_tick_labels_carry_the_decimals_the_step_needs() -> None:
    assert [svg.tick_label(v, [0, 0.25]) for v in (0, 0.25)] == ["0.00", "0.25"]
    assert svg.tick_label(1500, [0, 500, 1000, 1500]) == "1,500"
    assert svg.tick_label(0.1, [0, 0.05, 0.1]) == "0.10"


def test_nice_ticks_of_an_empty_range_is_one_tick() -> None:
    assert svg.nice_ticks(4.0, 4.0) == [4.0]


def test_scales_map_linearly_and_by_logarithm() -> None:
    y = svg.Scale(0, 100, 300, 20)  # a vertical axis: up is smaller
    assert (y(0), y(50), y(100)) == (300, 160, 20)
    x = svg.Scale(10, 1000, 0, 200, log=True)
    assert x(100) == pytest.approx(100)


def test_escape_leaves_no_markup_and_nothing_xml_forbids() -> None:
    escaped = svg.escape(HOSTILE)
    assert escaped == "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#x27; "
    root = ET.fromstring(f'<t a="{escaped}">{escaped}</t>')
    assert root.text == root.get("a") == HOSTILE.replace("\x01", "")


def test_a_text_is_escaped_and_a_long_one_shortened_with_the_whole_as_tooltip() -> None:
    canvas = svg.Canvas(200, 100)
    canvas.text(0, 10, HOSTILE * 5, 10, max_width=100)
    root = ET.fromstring(canvas.render(HOSTILE, HOSTILE))
    (text,) = root.iter("text")
    tooltip = text.find("title")
    assert tooltip is not None and tooltip.text == (HOSTILE * 5).replace("\x01", "")
    assert (text.text or "") == "" and tooltip.tail is not None and tooltip.tail.endswith("\u2026")
    assert svg.text_width(tooltip.tail, 10) <= 100
    assert root.get("aria-label") == HOSTILE.replace("\x01", "")
    assert root.get("role") == "img"


def test_polylines_are_one_path_of_whole_pixels_without_repeated_points() -> None:
    canvas = svg.Canvas(100, 100)
    canvas.polylines([[(1.2, 2.4), (1.4, 2.2), (5.6, 7.5)], [(9.0, 9.0)]], svg.Stroke("#123"))
    (path,) = canvas.parts
    assert 'd="M1 2 6 8M9 9 9 9"' in path  # the second point rounds onto the first
    ET.fromstring(path)


def test_the_legend_lists_every_entry_escaped_and_wraps() -> None:
    entries = [svg.LegendEntry(f"{HOSTILE} {index}", "#123") for index in range(168)]
    markup = svg.legend_html(entries)
    root = ET.fromstring(markup)
    labels = [(item.find("svg") is not None, "".join(item.itertext())) for item in root]
    assert labels == [(True, f"{HOSTILE} {i}".replace("\x01", "")) for i in range(168)]
    assert "flex-wrap:wrap" in (root.get("style") or "")
    assert "<script" not in markup
