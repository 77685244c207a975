"""The decision matrix on a synthetic results file with known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memharness_s3.views.html.page import render_report
from tests.support.results import CAP, MB, run, write

GB = 10**9


def four_workers(strategy: str, peak: int, wall: float | None, **fields: Any) -> list[Any]:
    fields.setdefault("bytes_fetched", GB)
    return [
        run(
            strategy,
            GB,
            peak,
            concurrency=4,
            worker=worker,
            wall_s=wall,
            throughput_mb_s=None if wall is None else 1000 / wall,
            **fields,
        )
        for worker in range(4)
    ]


def one_gb_at_four_workers() -> list[Any]:
    """1 GB at 4 workers under 512 MiB: what the seed document asks, with known answers."""
    return [
        *[run("read-all", GB, CAP + MB, status="oom", concurrency=4, worker=w) for w in range(4)],
        *four_workers("chunked", 70 * MB, 3.0, details={"requests": 1}),
        *four_workers("range", 160 * MB, 2.0, details={"requests": 10}),
        *four_workers("transfer-manager", 480 * MB, 1.0),  # under 537 MB, inside the headroom
        # Downloads nothing (its wall time is the Textract job's): never "fastest".
        *four_workers("textract-direct", 87 * MB, 0.5, bytes_fetched=0),
        run("chunked", 250 * MB, 69 * MB, bytes_fetched=250 * MB),
    ]


def test_the_report_opens_with_the_decision(tmp_path: Path) -> None:
    html = render_report(write(tmp_path / "r", one_gb_at_four_workers())).read_text()
    first = html.index('<section id="')
    assert html[first:].startswith('<section id="decision">')
    # textract-direct ran against moto's Textract: greyed, not counted among those that fit
    assert "2 fit; equal within noise: range, chunked" in html
    assert html.index("1 GB \u00d7 4") < html.index('<section id="budget">')
    assert "4 of 4 killed" in html and "inconsistent" not in html
