"""Exports in the formats pytest-benchmark and github-action-benchmark read.

pytest-benchmark is not a dependency, so the format is checked against the key sets of a file
that pytest-benchmark 5.3.1 wrote with ``--benchmark-json``; where pytest-benchmark is
installed, its own ``compare`` command also loads the export and its ``Stats`` recomputes the
numbers. github-action-benchmark's ``customSmallerIsBetter`` reads a JSON list of
``{name: string, value: number, unit: string, range?: string, extra?: string}``
(``BenchmarkResult`` in its ``src/extract.ts``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.cli import export as export_cmd
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.views.exports import (
    byte_stats,
    to_bencher,
    to_github_action_benchmark,
    to_pytest_benchmark,
    unmeasured,
)
from tests.support.results import MB, cases_of, make_case, runs, sample, write

# Key sets of a file written by pytest-benchmark 5.3.1 (`pytest --benchmark-json`).
PB_TOP = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
PB_BENCHMARK = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
PB_STATS = {
    "min",
    "max",
    "mean",
    "stddev",
    "rounds",
    "median",
    "iqr",
    "q1",
    "q3",
    "iqr_outliers",
    "stddev_outliers",
    "outliers",
    "ld15iqr",
    "hd15iqr",
    "ops",
    "total",
    "data",
    "iterations",
}
PB_OPTIONS = {
    "disable_gc",
    "timer",
    "min_rounds",
    "max_time",
    "min_time",
    "precision",
    "confidence",
    "warmup",
}
PB_COMMIT = {"id", "time", "author_time", "dirty", "project", "branch"}
GAB_REQUIRED: dict[str, type | tuple[type, ...]] = {"name": str, "unit": str, "value": (int, float)}
GAB_OPTIONAL: dict[str, type] = {"range": str, "extra": str}

META = {
    "timestamp": "2026-11-29T02:39:23+00:00",
    "python": "3.11.7",
    "platform": "Linux-6.18-x86_64",
    "cpu_count": 2,
    "packages": {"boto3": "1.44.8"},
}


def test_pytest_benchmark_has_the_real_files_keys() -> None:
    document = to_pytest_benchmark(cases_of(sample()), META)
    document = json.loads(json.dumps(document))  # what a reader gets
    assert set(document) == PB_TOP
    assert set(document["commit_info"]) == PB_COMMIT
    assert isinstance(document["machine_info"], dict)
    assert document["datetime"] == META["timestamp"]
    assert len(document["benchmarks"]) == 2  # read-all never ended ok: nothing to measure
    for bench in document["benchmarks"]:
        assert set(bench) == PB_BENCHMARK
        assert set(bench["stats"]) == PB_STATS
        assert set(bench["options"]) == PB_OPTIONS
        assert bench["extra_info"]["unit"] == "bytes"
        peak = bench["extra_info"]["peak_rss_bytes"]
        assert peak["value"] == bench["stats"]["median"]
        assert peak["lower_value"] == bench["stats"]["min"]
        assert peak["upper_value"] == bench["stats"]["max"]
        assert bench["fullname"].endswith(bench["name"])
        assert bench["param"] in bench["name"]
    chunked = document["benchmarks"][0]
    assert chunked["name"] == "peak_rss[chunked-250MB-x1]"
    assert chunked["stats"]["median"] == 69_000_000  # bytes, not seconds
    assert chunked["stats"]["rounds"] == 3
    assert chunked["stats"]["data"] == [69_000_000, 69_400_000, 68_800_000]
    assert document["benchmarks"][1]["stats"]["rounds"] == 4  # one per worker


@pytest.mark.parametrize(
    ("data", "q1", "q3"),
    [
        ([5], 5, 5),
        ([1, 2, 3, 4, 5, 6, 7, 8], 2.5, 6.5),
        ([1, 2, 3, 4, 5], 1.75, 4.25),
        ([1, 2, 3, 4, 5, 6, 7], 2.25, 5.75),
    ],
)
def test_byte_stats_quartiles_as_pytest_benchmark_computes_them(
    data: list[int], q1: float, q3: float
) -> None:
    stats = byte_stats(data)
    assert (stats["q1"], stats["q3"], stats["iqr"]) == (q1, q3, q3 - q1)
    assert stats["ops"] == pytest.approx(1 / stats["mean"])


def test_byte_stats_outliers() -> None:
    stats = byte_stats([10, 11, 10, 12, 11, 100])
    assert stats["iqr_outliers"] == 1
    assert stats["hd15iqr"] == 12
    assert stats["ld15iqr"] == 10
    assert stats["outliers"] == f"{stats['stddev_outliers']};1"


def check_github_action_benchmark(entries: Any) -> None:
    """What github-action-benchmark's custom tools read: a list of BenchmarkResult objects."""
    assert isinstance(entries, list)
    assert entries
    for entry in entries:
        assert set(entry) <= set(GAB_REQUIRED) | set(GAB_OPTIONAL)
        for key, kind in GAB_REQUIRED.items():
            assert isinstance(entry[key], kind), key
            assert not isinstance(entry[key], bool)
        for key, kind in GAB_OPTIONAL.items():
            assert isinstance(entry.get(key, ""), kind), key
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names))


def test_github_action_benchmark_entries() -> None:
    cases = cases_of(sample())
    entries = json.loads(json.dumps(to_github_action_benchmark(cases)))
    check_github_action_benchmark(entries)
    assert [e["name"] for e in entries] == ["peak RSS chunked 250MB x1", "peak RSS range 250MB x4"]
    chunked = entries[0]
    assert (chunked["unit"], chunked["value"]) == ("MB", 69.0)
    assert chunked["range"].startswith("± ")
    assert "MB = 10^6 bytes" in chunked["extra"]
    assert unmeasured(cases) == ["read-all 750MB x1"]


def test_github_action_benchmark_wall_time_and_stable_names() -> None:
    entries = to_github_action_benchmark(cases_of(sample()), wall_time=True)
    check_github_action_benchmark(entries)
    walls = [e for e in entries if e["name"].startswith("wall time")]
    assert [(e["unit"], e["value"]) for e in walls] == [("s", 0.5), ("s", 0.5)]
    rerun = runs(make_case("chunked", 250 * MB), [[75.0]], tag="other-run")
    again = to_github_action_benchmark(cases_of(rerun))
    assert again[0]["name"] == entries[0]["name"]  # the series a dashboard follows


def export(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="memharness export")
    export_cmd.add_arguments(parser)
    return export_cmd.run(parser.parse_args(argv))


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(tmp_path / "r", sample())
    out = tmp_path / "pb.json"
    assert export(str(results), "--format", "pytest-benchmark", "-o", str(out)) == 0
    assert set(json.loads(out.read_text())) == PB_TOP
    printed = capsys.readouterr().out
    assert "left out (no ok run to measure): read-all 750MB x1" in printed
    assert f"wrote 2 pytest-benchmark entries to {out}" in printed

    argv = ["--format", "github-action-benchmark", "--wall-time", "-o", "-"]
    assert export(str(results), *argv) == 0
    captured = capsys.readouterr()
    check_github_action_benchmark(json.loads(captured.out))
    assert "wrote 4 github-action-benchmark entries to stdout" in captured.err


def test_export_command_errors(tmp_path: Path) -> None:
    results = write(tmp_path / "r", sample())
    with pytest.raises(UsageError, match="--wall-time applies to"):
        export(str(results), "--format", "pytest-benchmark", "--wall-time", "-o", "-")
    with pytest.raises(UsageError, match="no results at"):
        export(str(tmp_path / "missing"), "--format", "pytest-benchmark", "-o", "-")
    only_oom = write(tmp_path / "oom", runs(make_case("read-all", 750 * MB), [[547.0]], "oom"))
    with pytest.raises(RunFailed, match="no case has an ok run"):
        export(str(only_oom), "--format", "github-action-benchmark", "-o", "-")


def check_bmf(document: Any) -> None:
    """Bencher's BMF JSON schema (bencher.dev/bmf.json): benchmark -> measure -> metric, the
    metric an object with a number ``value`` and optional number bounds, nothing else."""
    assert isinstance(document, dict) and document
    for benchmark, measures in document.items():
        assert isinstance(benchmark, str) and benchmark and len(benchmark) <= 1024
        assert isinstance(measures, dict) and measures
        for measure, metric in measures.items():
            assert isinstance(measure, str) and 0 < len(measure) <= 64
            assert set(metric) <= {"value", "lower_value", "upper_value"} and "value" in metric
            assert all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in metric.values()
            )
            assert metric.get("lower_value", metric["value"]) <= metric["value"]
            assert metric["value"] <= metric.get("upper_value", metric["value"])


def test_bencher_export_follows_the_bmf_schema() -> None:
    document = to_bencher(cases_of(sample()))
    check_bmf(document)
    assert set(document) == {"chunked 250MB x1", "range 250MB x4"}  # the oom case is left out
    chunked = document["chunked 250MB x1"]
    assert chunked["peak-rss"] == {
        "value": 69.0 * MB,
        "lower_value": 68.8 * MB,
        "upper_value": 69.4 * MB,
    }
    assert chunked["wall-time"]["value"] == 0.5
    assert json.loads(json.dumps(document)) == document


def test_bencher_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(tmp_path / "r", sample())
    assert export(str(results), "--format", "bencher", "-o", str(tmp_path / "bmf.json")) == 0
    check_bmf(json.loads((tmp_path / "bmf.json").read_text()))
    assert "wrote 2 bencher entries" in capsys.readouterr().out
