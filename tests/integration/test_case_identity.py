"""One case identity for every view: the gate, the report, the summary and the exports agree.

Reproduces what a user saw before the analysis layer existed: a changed parameter passed the gate
as "only in the new results", a baseline of other sizes passed with nothing compared, and four
variants of one strategy (faults, parameters) were one report row and four unlabelled gate cases.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.gate import evaluate
from memharness_s3.views.exports import to_github_action_benchmark
from memharness_s3.views.html.page import render_report
from memharness_s3.views.summary import render_summary
from tests.support.cli import MEMHARNESS
from tests.support.results import BUDGET, MB, chunked, repeats, variants, write

MIB = 2**20


# --- identity ---------------------------------------------------------------------------------


# --- point 1: a changed parameter is compared, and fails ---------------------------------------


# --- point 2: a baseline with nothing in common is an error -------------------------------------


def test_the_gate_command_exits_2_for_a_disjoint_baseline(tmp_path: Path) -> None:
    base = write(tmp_path / "base", repeats(chunked(size=10 * MB), 60.0))
    new = write(tmp_path / "new", repeats(chunked(), 69.0))
    argv = ["gate", str(new), "--budget", "512MiB", "--baseline", str(base)]
    done = subprocess.run(
        [*MEMHARNESS, *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert re.fullmatch(
        r"memharness: error: baseline \S+ has no case in common with these results, so nothing "
        r"can be compared: object sizes 10.0 MB in the baseline, 250.0 MB in these results\n",
        done.stderr,
    ), done.stderr


# --- point 3: variants are separate cases, with the same names in every view -------------------


EXPECTED_NAMES = [
    "chunked 4MB x1 chunk_size=4MiB no fault",
    "chunked 4MB x1 chunk_size=8MiB fault latency:200ms",
    "chunked 4MB x1 chunk_size=8MiB fault truncate",
    "chunked 4MB x1 chunk_size=8MiB no fault",
]


def test_gate_summary_report_and_export_name_the_same_four_cases(tmp_path: Path) -> None:
    results = variants()
    verdict = evaluate(results, budget_bytes=BUDGET)
    assert sorted(case.label for case in verdict.cases) == EXPECTED_NAMES
    summary = render_summary(results)
    for name in EXPECTED_NAMES:
        assert sum(line.startswith(name + " ") for line in summary.splitlines()) == 1, summary
    exported = {e["name"] for e in to_github_action_benchmark(Analysis(results).cases)}
    assert exported == {f"peak RSS {name}" for name in EXPECTED_NAMES}
    html = render_report(write(tmp_path / "r", results)).read_text()
    rows = re.findall(r'<tr class="case[^"]*"[^>]*>\s*<td>([^<]+)</td>', html)
    assert sorted(rows) == EXPECTED_NAMES, rows
