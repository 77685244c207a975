"""Which lines count once runs the backend broke (``infra``) have been re-run."""

from __future__ import annotations

from collections.abc import Sequence

from memharness_s3.analysis.identity import key_of_result
from memharness_s3.model.records import INFRA, RunResult


def settled(results: Sequence[RunResult]) -> list[RunResult]:
    """Every line but those of a run the backend broke whose re-run (the same case and repeat)
    ended with lines of its own; an ``infra`` line that was never re-run stays."""
    rerun = {(key_of_result(r).case_id, r.repeat) for r in results if r.status != INFRA}
    return [
        r for r in results if r.status != INFRA or (key_of_result(r).case_id, r.repeat) not in rerun
    ]
