"""One case identity for every view: the gate, the report, the summary and the exports agree.

Reproduces what a user saw before the analysis layer existed: a changed parameter passed the gate
as "only in the new results", a baseline of other sizes passed with nothing compared, and four
variants of one strategy (faults, parameters) were one report row and four unlabelled gate cases.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.gate import evaluate
from memharness_s3.analysis.identity import differences, key_of_case, key_of_result, labels
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Case
from memharness_s3.views.gate import render_markdown, render_text
from tests.support.results import BUDGET, MB, chunked, repeats, result, variants

MIB = 2**20


# --- identity ---------------------------------------------------------------------------------


def test_a_results_line_has_the_key_of_its_case() -> None:
    case = chunked(fault="truncate")
    line = result(case, 69.0)
    assert key_of_result(line) == key_of_case(case, line.object_key, "moto")
    assert line.case_id == key_of_result(line).case_id
    copy = dataclasses.replace(line, object_key=line.object_key + ".copy-3", worker=3)
    assert key_of_result(copy) == key_of_result(line)


@pytest.mark.parametrize(
    "other",
    [
        chunked(chunk=64 * MIB),
        chunked(fault="latency:200ms"),
        chunked(size=10 * MB),
        Case("chunked", "250000000B", 250 * MB, params={"chunk_size": 8 * MIB}, concurrency=4),
        Case("chunked", "x", 250 * MB, params={"chunk_size": 8 * MIB}, memory_limit_bytes=BUDGET),
        Case("chunked", "x", 250 * MB, params={"chunk_size": 8 * MIB}, memray=True),
        Case("chunked", "x", 250 * MB, params={"chunk_size": 8 * MIB}, process="pages"),
        Case("chunked", "x", 250 * MB, params={"chunk_size": 8 * MIB}, pool="threads"),
        Case("chunked", "x", 250 * MB, params={"chunk_size": 8 * MIB}, executor="celery"),
    ],
)
def test_anything_that_changes_the_measurement_changes_the_case(other: Case) -> None:
    base = key_of_result(result(chunked(), 69.0))
    assert key_of_result(result(other, 69.0)) != base


def test_the_backend_is_part_of_the_case() -> None:
    assert key_of_result(result(chunked(), 69.0, backend="s3rver")) != key_of_result(
        result(chunked(), 69.0)
    )


def test_labels_show_what_differs_and_differences_name_the_change() -> None:
    keys = [key_of_result(result(c, 1.0)) for c in (chunked(), chunked(chunk=64 * MIB))]
    assert sorted(labels(keys).values()) == [
        "chunked 250MB x1 chunk_size=64MiB",
        "chunked 250MB x1 chunk_size=8MiB",
    ]
    assert differences(keys[0], keys[1]) == ["chunk_size 8MiB -> 64MiB"]
    alone = key_of_result(result(chunked(), 1.0))
    assert labels([alone]) == {alone: "chunked 250MB x1"}


# --- point 1: a changed parameter is compared, and fails ---------------------------------------


@pytest.mark.parametrize("tolerance", [0.0, 0.10])
def test_a_parameter_change_that_raises_the_peak_fails_the_gate(tolerance: float) -> None:
    base = repeats(chunked(), 69.0, 69.2, 68.9)
    bad = repeats(chunked(chunk=64 * MIB), 187.0, 187.3, 186.8)
    verdict = evaluate(bad, budget_bytes=BUDGET, baseline=base, tolerance=tolerance)
    assert not verdict.passed
    (failure,) = verdict.failures
    assert failure.label == "chunked 250MB x1 chunk_size=64MiB"
    assert failure.baseline_label == "chunked 250MB x1 chunk_size=8MiB"
    assert "chunk_size 8MiB -> 64MiB" in failure.reasons[0]
    text = render_text(verdict)
    assert text.splitlines()[0].startswith("FAIL chunked 250MB x1 chunk_size=64MiB")
    assert "1 compared with baseline" in text.splitlines()[-1]
    assert "chunk_size 8MiB -> 64MiB" in render_markdown(verdict)


def test_a_parameter_change_within_tolerance_passes_and_says_what_it_compared() -> None:
    base = repeats(chunked(), 69.0)
    same = repeats(chunked(chunk=16 * MIB), 70.0)
    verdict = evaluate(same, budget_bytes=BUDGET, baseline=base, baseline_name="base")
    assert verdict.passed
    last = render_text(verdict).splitlines()[-1]
    assert last.startswith("PASS: 1 cases")
    assert "1 cases checked against the budget" in last
    assert "1 compared with baseline base" in last


def test_a_sweep_of_parameters_pairs_only_the_same_values() -> None:
    """Two parameter values on each side: the same values pair, nothing is guessed."""
    base = [
        *repeats(chunked(), 69.0, 69.1, 69.0),
        *repeats(chunked(chunk=64 * MIB), 187.0, 187.1, 186.9),
    ]
    new = [
        *repeats(chunked(), 69.0, 69.0, 69.1),
        *repeats(chunked(chunk=64 * MIB), 260.0, 260.2, 259.9),
    ]
    verdict = evaluate(new, budget_bytes=BUDGET, baseline=base)
    assert [c.label for c in verdict.failures] == ["chunked 250MB x1 chunk_size=64MiB"]
    assert verdict.compared_count == 2


# --- point 2: a baseline with nothing in common is an error -------------------------------------


def test_a_disjoint_baseline_is_an_error_that_says_why() -> None:
    base = repeats(chunked(size=10 * MB), 60.0)
    new = repeats(chunked(), 69.0)
    with pytest.raises(UsageError) as caught:
        evaluate(new, budget_bytes=BUDGET, baseline=base, baseline_name="other")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("baseline other has no case in common with these results")
    assert "object sizes 10.0 MB in the baseline, 250.0 MB in these results" in message


def test_the_local_executors_case_ids_are_those_it_always_had_and_celerys_differ() -> None:
    """A results file written before the executor was part of the case keeps its ids: the digest
    of a local case is over the fields it had then, without the executor's."""
    local = key_of_result(result(chunked(), 69.0))
    fields = dataclasses.asdict(local)
    for added in ("executor", "executor_params", "memory_scope", "env"):
        del fields[added]
    fields["params"], fields["process_params"] = dict(local.params), dict(local.process_params)
    text = json.dumps(fields, sort_keys=True, default=str)
    assert local.case_id == hashlib.sha256(text.encode()).hexdigest()[:12]
    celery = dataclasses.replace(local, executor="celery", executor_params=(("soak", 20),))
    assert celery.case_id != local.case_id


def test_a_celery_run_against_a_local_baseline_says_the_executors_differ() -> None:
    base = repeats(chunked(), 60.0)
    new = repeats(dataclasses.replace(chunked(), executor="celery"), 69.0)
    with pytest.raises(UsageError, match="executors local in the baseline, celery in these"):
        evaluate(new, budget_bytes=BUDGET, baseline=base, baseline_name="other")


# --- point 3: variants are separate cases, with the same names in every view -------------------


EXPECTED_NAMES = [
    "chunked 4MB x1 chunk_size=4MiB no fault",
    "chunked 4MB x1 chunk_size=8MiB fault latency:200ms",
    "chunked 4MB x1 chunk_size=8MiB fault truncate",
    "chunked 4MB x1 chunk_size=8MiB no fault",
]


def test_fault_and_parameter_variants_are_four_cases_in_the_analysis() -> None:
    cases = Analysis(variants()).cases
    assert sorted(case.label for case in cases) == EXPECTED_NAMES
    assert len({case.case_id for case in cases}) == 4
