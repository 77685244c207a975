"""Exports in the formats pytest-benchmark and github-action-benchmark read.

pytest-benchmark is not a dependency, so the format is checked against the key sets of a file
that pytest-benchmark 5.3.1 wrote with ``--benchmark-json``; where pytest-benchmark is
installed, its own ``compare`` command also loads the export and its ``Stats`` recomputes the
numbers. github-action-benchmark's ``customSmallerIsBetter`` reads a JSON list of
``{name: string, value: number, unit: string, range?: string, extra?: string}``
(``BenchmarkResult`` in its ``src/extract.ts``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memharness_s3.views.exports import (
    to_pytest_benchmark,
)
from tests.support.results import cases_of, sample

# Key sets of a file written by pytest-benchmark 5.3.1 (`pytest --benchmark-json`).


META = {
    "timestamp": "2026-11-29T02:39:23+00:00",
    "python": "3.11.7",
    "platform": "Linux-6.18-x86_64",
    "cpu_count": 2,
    "packages": {"boto3": "1.44.8"},
}


def test_pytest_benchmark_tools_read_the_export(tmp_path: Path) -> None:
    """pytest-benchmark's ``compare`` loads the file and its ``Stats`` agrees with ours."""
    stats = pytest.importorskip(
        "pytest_benchmark.stats", reason="pytest-benchmark not installed: keys checked only"
    )

    document = to_pytest_benchmark(cases_of(sample()), META)
    for bench in document["benchmarks"]:
        reference = stats.Stats()
        for value in bench["stats"]["data"]:
            reference.update(value)
        for field, value in reference.as_dict().items():
            assert bench["stats"][field] == pytest.approx(value), field
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Failed to load" not in proc.stdout + proc.stderr
    assert "peak_rss[chunked-250MB-x1]" in proc.stdout
