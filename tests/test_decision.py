"""The decision matrix on a synthetic results file with known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.decision import FAILED, FITS, OVER, TIGHT, decide
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


def test_the_matrix_answers_which_strategy_for_1_gb_at_4_workers() -> None:
    decision = decide(Analysis(one_gb_at_four_workers()), CAP)
    column = decision.column(GB, 4)
    assert column is not None
    verdicts = {cell.strategy: cell.verdict for cell in column.cells}
    assert verdicts == {
        "read-all": FAILED,
        "chunked": FITS,
        "range": FITS,
        "transfer-manager": TIGHT,
        "textract-direct": FITS,
    }
    assert column.fastest == "range"
    chunked = next(cell for cell in column.cells if cell.strategy == "chunked")
    assert (chunked.max_peak_bytes, chunked.requests, chunked.median_wall_s) == (70 * MB, 1, 3.0)
    assert [(c.size_bytes, c.concurrency) for c in decision.columns] == [(250 * MB, 1), (GB, 4)]
    assert decision.column(250 * MB, 1).fastest == "chunked"  # type: ignore[union-attr]


def test_the_workers_sum_counts_and_a_peak_over_the_budget_is_over() -> None:
    shared = four_workers("chunked", 300 * MB, 1.0, aggregate_peak_rss_bytes=4 * 500 * MB)
    over = four_workers("range", CAP + MB, 1.0)
    column = decide(Analysis([*shared, *over]), CAP).column(GB, 4)
    assert column is not None
    assert {c.strategy: c.verdict for c in column.cells} == {"chunked": TIGHT, "range": OVER}
    assert column.fastest is None


def test_the_report_opens_with_the_decision(tmp_path: Path) -> None:
    html = render_report(write(tmp_path / "r", one_gb_at_four_workers())).read_text()
    first = html.index('<section id="')
    assert html[first:].startswith('<section id="decision">')
    # textract-direct ran against moto's Textract: greyed, not counted among those that fit
    assert "range: 160.0 MB peak, 2.00 s (2 fit)" in html
    assert html.index("1 GB \u00d7 4") < html.index('<section id="budget">')
