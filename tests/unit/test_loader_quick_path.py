"""The loader's quick path (issue 19, point 3): lines of a layout already seen are checked with
one plan, and it is only ever faster: every line reads as the careful path reads it, and every
bad value, wherever its line is, still ends in one line naming the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.errors import UsageError
from memharness_s3.model.records import RunResult, to_json
from memharness_s3.results import loader
from tests.support.results import make_case, runs, write

GOOD_LINES = 5


def good_lines() -> list[dict[str, Any]]:
    case = dataclasses.replace(make_case("chunked"), params={"chunk_size": 8 * 2**20})
    results = runs(case, [[69.0, 70.0], [71.0, 72.0], [70.5, 69.5]])
    return [json.loads(to_json(result)) for result in results][:GOOD_LINES]


def write_lines(folder: Path, lines: list[dict[str, Any]]) -> Path:
    write(folder, [])
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (folder / "results.jsonl").write_text(text)
    return folder


def careful_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line read by the careful path, as before the quick path."""

    class Never:
        def __init__(self, *_: object) -> None:
            pass

        def result(self, _: str) -> None:
            return None

    monkeypatch.setattr(loader, "_QuickPath", Never)


def field_types(results: list[RunResult]) -> list[list[type]]:
    return [[type(getattr(r, f.name)) for f in dataclasses.fields(r)] for r in results]


def test_quick_and_careful_paths_read_every_line_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of several layouts: ints in float fields, nulls, a field left out, a field of a
    newer version, a Celery line without memory_scope, nested and typed mappings."""
    lines = good_lines()
    variants: list[dict[str, Any]] = [
        {"wall_s": 1},
        {"error": "slow", "status": "error", "peak_rss_bytes": 0},
        {"params": {"chunk_size": True}},
        {"params": {"chunk_size": 1.0}},
        {"params": {"chunk_size": 1}},
        {"params": {"chunk_size": 0.0}},
        {"params": {"chunk_size": -0.0}},
        {"details": {"parts": [1, 2, {"a": None}]}},
        {"a_field_of_tomorrow": 1},
        {"executor": "celery"},
    ]
    for index, change in enumerate(variants):
        lines.append({**lines[index % GOOD_LINES], **change})
    del lines[-1]["memory_scope"]  # a Celery line written before memory_scope was
    shortened = dict(lines[0])
    del shortened["retries"], shortened["memory_scope"]
    lines.append(shortened)
    folder = write_lines(tmp_path / "r", lines * 2)
    quick = loader.load(folder).results
    careful_only(monkeypatch)
    careful = loader.load(folder).results
    assert quick == careful
    assert field_types(quick) == field_types(careful)
    chunk_sizes = [r.params.get("chunk_size") for r in quick[GOOD_LINES + 2 : GOOD_LINES + 7]]
    assert [type(value) for value in chunk_sizes] == [bool, float, int, float, float]
    assert [str(value) for value in chunk_sizes[-2:]] == ["0.0", "-0.0"]
    assert quick[GOOD_LINES + 9].memory_scope == "node"


def test_lines_of_one_layout_share_their_texts_and_mappings(tmp_path: Path) -> None:
    results = loader.load(write_lines(tmp_path / "r", good_lines())).results
    assert all(r.params is results[0].params for r in results)
    assert all(r.details is results[0].details for r in results)
    assert all(r.strategy is results[0].strategy for r in results)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"peak_rss_bytes": NaN', "field 'peak_rss_bytes' must be int or null, got NaN"),
        ('"wall_s": Infinity', "field 'wall_s' must be float or null, got Infinity"),
        ('"wall_s": 1e999', "field 'wall_s' must be float or null, got Infinity"),
        ('"wall_s": -1e999', "field 'wall_s' must be float or null, got -Infinity"),
        ('"peak_rss_bytes": 1.5', "field 'peak_rss_bytes' must be int or null, got 1.5"),
        ('"peak_rss_bytes": -1', "field 'peak_rss_bytes' must be from 0"),
        ('"peak_rss_bytes": 0', "field 'peak_rss_bytes' of an ok run must be 1 or more"),
        ('"size_bytes": 0', "field 'size_bytes' of an ok run must be 1 or more"),
        ('"exit_code": -1000000000000000001', "field 'exit_code' must be from"),
        ('"concurrency": 0', "field 'concurrency' must be from 1"),
        ('"concurrency": 100000', "field 'concurrency' must be from 1"),
        ('"shared_object": 1', "field 'shared_object' must be bool, got 1"),
        ('"retries": true', "field 'retries' must be int, got true"),
        ('"status": "great"', "field 'status' must be one of ok, error"),
        ('"pool": "fibers"', "field 'pool' must be one of processes, threads"),
        ('"run_id": "' + "r" * 201 + '"', "field 'run_id' is longer than 200 characters"),
        ('"strategy": "' + "s" * 201 + '"', "field 'strategy' is longer than 200 characters"),
        ('"error": "' + "e" * 2001 + '"', "field 'error' is longer than 2,000 characters"),
        ('"params": {"x": "' + "x" * 30_000 + '"}', "field 'params' is longer than 20,000"),
        ('"env": {"A": NaN}', None),  # NaN inside a mapping is plain JSON: read, not refused
    ],
)
def test_a_bad_value_after_good_lines_of_its_layout_is_refused_with_its_line(
    raw: str, expected: str | None, tmp_path: Path
) -> None:
    """The bad line comes after lines that made the quick path's plan for its layout."""
    lines = good_lines()
    folder = write_lines(tmp_path / "r", lines)
    name = raw.split('"')[1]
    bad = json.dumps({**lines[0], name: "PLACEHOLDER"}).replace(
        '"PLACEHOLDER"', raw.split(": ", 1)[1]
    )
    with (folder / "results.jsonl").open("a") as handle:
        handle.write(bad + "\n")
    if expected is None:
        assert len(loader.load(folder).results) == GOOD_LINES + 1
        return
    with pytest.raises(UsageError) as error:
        loader.load(folder)
    message = str(error.value)
    assert message.startswith(f"{folder / 'results.jsonl'}:{GOOD_LINES + 1}: ")
    assert expected in message
    assert "\n" not in message
