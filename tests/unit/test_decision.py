"""The decision matrix on a synthetic results file with known answers."""

from __future__ import annotations

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.decision import FITS, OVER, TIGHT, decide
from tests.support.results import CAP, MB, four_workers, one_gb_at_four_workers

GB = 10**9


def test_the_matrix_answers_which_strategy_for_1_gb_at_4_workers() -> None:
    decision = decide(Analysis(one_gb_at_four_workers()), CAP)
    column = decision.column(GB, 4)
    assert column is not None
    verdicts = {cell.strategy: cell.text for cell in column.cells}
    assert verdicts == {
        "read-all": "4 of 4 killed",
        "chunked": FITS,
        "range": FITS,
        "transfer-manager": TIGHT,
        "textract-direct": FITS,
    }
    # moto's wall times are moto's: speed breaks no tie there
    assert column.fastest is None
    assert column.speed.tied == ("range", "chunked")
    chunked = next(cell for cell in column.cells if cell.strategy == "chunked")
    assert (chunked.max_peak_bytes, chunked.requests, chunked.median_wall_s) == (70 * MB, 1, 3.0)
    assert [(c.size_bytes, c.concurrency) for c in decision.columns] == [(250 * MB, 1), (GB, 4)]
    assert decision.column(250 * MB, 1).fastest == "chunked"  # type: ignore[union-attr]


def test_a_per_worker_peak_over_the_budget_is_over_and_the_sum_is_not_a_rule() -> None:
    # worker scope: each worker has its own cap, so the four workers' sum is no verdict's
    shared = four_workers("chunked", 300 * MB, 1.0, aggregate_peak_rss_bytes=4 * 500 * MB)
    over = four_workers("range", CAP + MB, 1.0)
    column = decide(Analysis([*shared, *over]), CAP).column(GB, 4)
    assert column is not None
    assert {c.strategy: c.verdict for c in column.cells} == {"chunked": FITS, "range": OVER}
    assert column.fastest == "chunked"  # the only one that fits
