"""A case's fields are one list (``case_fields.CASE_FIELDS``): a dimension added there, and only
there, is part of the case's identity, its name, the gate's pairing and the results schema.

The dummy dimension is added in a fresh interpreter before anything else is imported, as an edit
of the list would be: the records and the case key take their fields from the list when they are
defined.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from memharness_s3.analysis.identity import CaseKey, key_of_case
from memharness_s3.model.case_fields import CASE_FIELDS
from memharness_s3.model.records import Case, RunResult

MB = 10**6
KEY = "fixtures/memharness-4000000B.pdf"

WITH_A_DUMMY_DIMENSION = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from memharness_s3.model import case_fields

    case_fields.CASE_FIELDS.append(
        case_fields.CaseField(
            "scope",
            str,
            "process",
            label="memory scopes",
            facet="scope",
            shown=lambda scope: f"scope {scope}",
            added=True,
        )
    )

    from memharness_s3.analysis.identity import key_of_case, key_of_result, labels
    from memharness_s3.errors import UsageError
    from memharness_s3.analysis.gate import evaluate
    from memharness_s3.model.records import Case, RunResult, to_json
    from memharness_s3.results.loader import read_lines

    KEY = "fixtures/memharness-4000000B.pdf"


    def result(case, repeat):
        return RunResult.for_case(
            case,
            repeat,
            0,
            case_id=key_of_case(case, KEY, "moto").case_id,
            run_id=f"r{repeat}-{case.scope}",
            group_id=f"g{repeat}",
            object_key=KEY,
            status="ok",
            backend="moto",
            started_at="2026-01-01T00:00:00+00:00",
            peak_rss_bytes=60_000_000,
            baseline_rss_bytes=52_000_000,
            wall_s=0.5,
        )


    default = Case("chunked", "4MB", 4_000_000, params={"chunk_size": 8388608})
    node = Case("chunked", "4MB", 4_000_000, params={"chunk_size": 8388608}, scope="node")
    seen = {
        "default_id": key_of_case(default, KEY, "moto").case_id,
        "node_id": key_of_case(node, KEY, "moto").case_id,
        "names": sorted(labels([key_of_case(c, KEY, "moto") for c in (default, node)]).values()),
    }
    try:
        evaluate([result(node, 0)], budget_bytes=512 * 2**20, baseline=[result(default, 0)])
        seen["disjoint"] = None
    except UsageError as exc:
        seen["disjoint"] = str(exc)

    out = Path(sys.argv[1])
    out.write_text(to_json(result(node, 0)) + "\\n")
    (loaded,) = read_lines(out)
    seen["loaded_scope"] = loaded.scope
    seen["loaded_key_is_the_cases"] = key_of_result(loaded) == key_of_case(node, KEY, "moto")
    line = json.loads(out.read_text())
    out.write_text(json.dumps({**line, "scope": 7}) + "\\n")
    try:
        read_lines(out)
        seen["refused"] = None
    except UsageError as exc:
        seen["refused"] = str(exc)
    print(json.dumps(seen))
    """
)


def test_records_and_the_case_key_have_exactly_the_listed_case_fields() -> None:
    listed = [field.name for field in CASE_FIELDS]
    assert [field.name for field in dataclasses.fields(CaseKey)] == listed
    result_fields = {field.name for field in dataclasses.fields(RunResult)}
    case_fields = {field.name for field in dataclasses.fields(Case)}
    assert set(listed) <= result_fields
    assert {field.name for field in CASE_FIELDS if field.on_case} <= case_fields
    assert {field.name for field in CASE_FIELDS if not field.on_case}.isdisjoint(case_fields)


def test_a_dimension_added_to_the_list_alone_is_seen_by_identity_names_gate_and_loader(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITH_A_DUMMY_DIMENSION, str(tmp_path / "results.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # Identity: the new value is another case; at its default, the id results had before it.
    case = Case("chunked", "4MB", 4 * MB, params={"chunk_size": 8388608})
    assert seen["default_id"] == key_of_case(case, KEY, "moto").case_id
    assert seen["node_id"] != seen["default_id"]
    # Naming: the facet tells the two cases apart.
    assert seen["names"] == ["chunked 4MB x1 scope node", "chunked 4MB x1 scope process"]
    # Gate pairing: nothing pairs, and the gate says it is the new dimension.
    assert seen["disjoint"] is not None
    assert "memory scopes process in the baseline, node in these results" in seen["disjoint"]
    # Loader: the field is in the schema, read back and checked like any other.
    assert seen["loaded_scope"] == "node"
    assert seen["loaded_key_is_the_cases"] is True
    assert seen["refused"] is not None and "field 'scope' must be" in seen["refused"]
