"""Expectations that bound a run's cost (peak - baseline): parsing, covering, judging, gating."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.analysis.expectations import parse_cost_bound
from memharness_s3.analysis.gate import evaluate
from memharness_s3.config.matrix import load_matrix
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Case, Expectation, RunResult, to_json
from memharness_s3.results.loader import load
from memharness_s3.views.gate import render_markdown, render_text
from tests.support.results import BUDGET, cid

MB = 10**6
MIB = 2**20


@pytest.mark.parametrize(
    ("text", "size", "params", "limit"),
    [
        ("0.9 x object", 64 * MB, {}, round(0.9 * 64 * MB)),
        ("2 x part_size", 64 * MB, {"part_size": 8 * MIB}, 16 * MIB),
        ("1.5*chunk_size", 64 * MB, {"chunk_size": 4 * MIB}, 6 * MIB),
        ("64MiB", 10 * MB, {}, 64 * MIB),
        ("40 MB", 10 * MB, {}, 40 * MB),
    ],
)
def test_cost_bounds_in_bytes(text: str, size: int, params: dict[str, Any], limit: int) -> None:
    assert parse_cost_bound(text).limit(size, params) == limit


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("twice the object", "malformed cost bound 'twice the object'"),
        ("0 x object", "the factor must be positive"),
        ("2 x mode", "'mode' is not a size parameter of the strategy (it has: part_size"),
        ("2 x nope", "'nope' is not a size parameter"),
    ],
)
def test_malformed_cost_bounds_say_the_forms(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cost_bound(text, {"part_size": 8 * MIB, "mode": "get"})
    assert fragment in str(caught.value)


MATRIX = """\
[matrix]
sizes = ["32MB"]
strategies = ["s3fs", "iter-chunks"]
faults = ["none", "reset-mid-body@30%"]

[params.s3fs]
mode = ["get", "open"]
"""


def write_matrix(tmp_path: Path, expect: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(MATRIX + expect)
    return path


def test_a_corpus_entry_is_read_with_its_narrowing_keys_and_bounds(tmp_path: Path) -> None:
    path = write_matrix(
        tmp_path,
        """
[[expect]]
strategy = "s3fs"
min_size = "10MB"
max_size = "400MB"
params = { mode = "get", block_size = "16MiB" }
process = "none"
fault = "none"
status = "ok"
cost_at_least = "0.9 x object"
cost_at_most = "2 x block_size"
issue = "fsspec/s3fs: get holds its parts"
reason = "parts are read whole"
""",
    )
    (expectation,) = load_matrix(path).expect
    assert expectation == Expectation(
        "s3fs",
        10 * MB,
        "ok",
        "parts are read whole",
        max_size_bytes=400 * MB,
        params={"mode": "get", "block_size": 16 * MIB},
        process="none",
        fault="none",
        cost_at_least="0.9 x object",
        cost_at_most="2 x block_size",
        issue="fsspec/s3fs: get holds its parts",
    )
    assert expectation.covers(
        "s3fs", 32 * MB, {"mode": "get", "block_size": 16 * MIB}, "none", None
    )
    assert not expectation.covers(
        "s3fs", 32 * MB, {"mode": "open", "block_size": 16 * MIB}, "none", None
    )
    assert not expectation.covers(
        "s3fs", 32 * MB, {"mode": "get", "block_size": 16 * MIB}, "none", "reset-mid-body@30%"
    )
    assert not expectation.covers(
        "s3fs", 500 * MB, {"mode": "get", "block_size": 16 * MIB}, "none", None
    )


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ('status = "oom"\ncost_at_most = "64MiB"', "a cost bound applies to ok runs"),
        ('status = "ok"\ncost_at_most = "2 x mode"', "'mode' is not a size parameter"),
        ('status = "ok"\nmax_size = "1MB"', "'max_size': 1MB is below min_size"),
        ('status = "ok"\nfault = "reset"', "'fault': malformed fault 'reset'"),
        ('status = "ok"\nprocess = "pagse"', "did you mean 'pages'?"),
        ('status = "ok"\nparams = { mdoe = "get" }', "has no parameter 'mdoe'"),
        ('status = "ok"\nparams = "get"', "'params' must be a table of parameter values"),
    ],
)
def test_bad_corpus_entries_are_one_line_errors(tmp_path: Path, entry: str, fragment: str) -> None:
    text = f'\n[[expect]]\nstrategy = "s3fs"\nmin_size = "10MB"\nreason = "r"\n{entry}\n'
    with pytest.raises(UsageError) as caught:
        load_matrix(write_matrix(tmp_path, text))
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    assert message.startswith(f"{tmp_path / 'm.toml'}:")


def case(params: dict[str, Any], fault: str | None = None) -> Case:
    return Case(
        strategy="s3fs",
        object_name="64000000B",
        size_bytes=64 * MB,
        params=params,
        fault=fault,
        memory_limit_bytes=BUDGET,
    )


def run(of: Case, cost_mb: float, worker: int = 0, status: str = "ok") -> RunResult:
    return RunResult.for_case(
        of,
        0,
        worker,
        case_id=cid(of),
        run_id=f"r{cid(of)[:6]}{worker}",
        group_id=f"g{cid(of)[:6]}",
        status=status,
        object_key=f"fixtures/{of.object_name}.pdf",
        backend="s3rver",
        started_at="2026-01-01T00:00:00+00:00",
        peak_rss_bytes=round((50 + cost_mb) * MB),
        baseline_rss_bytes=50 * MB,
        wall_s=0.5,
    )


GET = {"mode": "get", "block_size": 8 * MIB}
OPEN = {"mode": "open", "block_size": 8 * MIB}
TRAP = Expectation(
    "s3fs",
    0,
    "ok",
    "get holds the parts",
    params={"mode": "get"},
    cost_at_least="0.9 x object",
    issue="s3fs get",
)
FIX = Expectation(
    "s3fs",
    0,
    "ok",
    "open reads a block at a time",
    params={"mode": "open"},
    cost_at_most="2 x block_size",
)


def test_every_bound_says_what_it_compared_and_the_gate_passes_when_all_hold() -> None:
    results = [run(case(GET), 66.0), run(case(OPEN), 12.0)]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=[TRAP, FIX])
    assert verdict.passed
    text = render_text(verdict)
    assert (
        "PASS expect s3fs" in text
        and "peak - baseline 66.0 MB >= 0.9 x object = 57.6 MB (s3fs get)" in text
    )
    assert "peak - baseline 12.0 MB <= 2 x block_size = 16.8 MB" in text
    assert "2 of 2 expected cost bounds held" in text.splitlines()[-1]
    assert "### Expected costs" in render_markdown(verdict)


def test_a_bound_that_does_not_hold_fails_the_case_with_its_numbers() -> None:
    results = [run(case(GET), 30.0), run(case(OPEN), 12.0), run(case(OPEN), 17.5, worker=1)]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=[TRAP, FIX])
    assert not verdict.passed
    text = render_text(verdict)
    assert "FAIL expect s3fs" in text
    assert "peak - baseline 30.0 MB < 0.9 x object = 57.6 MB" in text
    assert "peak - baseline 17.5 MB, highest of 2 ok runs > 2 x block_size = 16.8 MB" in text
    assert {c.strategy for c in verdict.failures} == {"s3fs"} and len(verdict.failures) == 2


def test_a_cost_expectation_that_covers_no_case_fails() -> None:
    verdict = evaluate([run(case(OPEN), 12.0)], budget_bytes=BUDGET, expectations=[TRAP])
    assert not verdict.passed
    assert "FAIL expect: no case in these results is covered by the expectation s3fs mode=get" in (
        render_text(verdict)
    )


def test_a_covered_case_without_an_ok_run_fails_its_bound() -> None:
    results = [run(case(GET), 30.0, status="error")]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=[TRAP])
    assert not verdict.passed
    assert "0 of 1 runs ended ok with a measured cost, nothing to compare" in render_text(verdict)


def test_fault_none_covers_only_the_runs_without_a_fault() -> None:
    calm = dataclasses.replace(FIX, fault="none")
    results = [run(case(OPEN), 12.0), run(case(OPEN, fault="reset-mid-body@30%"), 40.0)]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=[calm])
    assert verdict.passed and len(verdict.checks) == 1


def test_expectations_travel_in_meta_json(tmp_path: Path) -> None:
    results = [run(case(GET), 66.0), run(case(OPEN), 12.0)]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in results))
    expect = [dataclasses.asdict(TRAP), dataclasses.asdict(FIX)]
    (tmp_path / "meta.json").write_text(json.dumps({"settings": {"expect": expect}}))
    loaded = load(tmp_path)
    assert loaded.meta.expectations == (TRAP, FIX)
    broken = [{**expect[0], "cost_at_least": "lots"}]
    (tmp_path / "meta.json").write_text(json.dumps({"settings": {"expect": broken}}))
    with pytest.raises(UsageError, match="malformed cost bound 'lots'"):
        load(tmp_path)


def test_a_cost_expectation_for_other_object_sizes_is_a_note_not_a_failure() -> None:
    large_only = dataclasses.replace(TRAP, min_size_bytes=200 * MB)
    verdict = evaluate([run(case(GET), 66.0)], budget_bytes=BUDGET, expectations=[large_only])
    assert verdict.passed
    assert any(note.startswith("not measured at these object sizes") for note in verdict.notes)


def test_a_narrowed_status_expectation_names_what_it_covers() -> None:
    cut = Expectation(
        "s3fs", 0, "error", "no retry", params={"mode": "open"}, fault="reset-mid-body@30%"
    )
    results = [
        run(case(OPEN), 12.0),
        run(case(OPEN, fault="reset-mid-body@30%"), 1.0, status="error"),
    ]
    verdict = evaluate(results, budget_bytes=BUDGET, expectations=[cut])
    assert verdict.passed
    assert (
        "s3fs mode=open fault reset-mid-body@30% on objects of 0 B or more is expected to end "
        "error (no retry)"
    ) in "\n".join(verdict.notes)
