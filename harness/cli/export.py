"""``memharness export``: results as pytest-benchmark, github-action-benchmark or Bencher JSON.

So that dashboards which already chart those formats can chart memory: see
``memharness_s3.views.exports``
for what each field holds (peak RSS in bytes in pytest-benchmark's ``stats``, MB in
github-action-benchmark's ``value``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

from memharness_s3.analysis.cases import Analysis
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.paths import write_no_follow
from memharness_s3.printable import printable
from memharness_s3.results.loader import load
from memharness_s3.views.exports import (
    FORMATS,
    measured,
    to_bencher,
    to_github_action_benchmark,
    to_pytest_benchmark,
    unmeasured,
)

NAME = "export"
HELP = "write results as pytest-benchmark, github-action-benchmark or Bencher (BMF) JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="DIR", help="results dir or results.jsonl")
    parser.add_argument("--format", required=True, choices=FORMATS, help="the JSON format to write")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="file to write, - for stdout"
    )
    parser.add_argument(
        "--wall-time",
        action="store_true",
        help="github-action-benchmark: also one entry per case for its median fetch wall time",
    )


def run(args: argparse.Namespace) -> int:
    if args.wall_time and args.format != "github-action-benchmark":
        raise UsageError("--wall-time applies to --format github-action-benchmark only")
    source = load(args.results)
    cases = Analysis(source.results).cases
    if not measured(cases):
        raise RunFailed(f"nothing to export from {args.results}: no case has an ok run")
    document: Any
    if args.format == "pytest-benchmark":
        document = to_pytest_benchmark(cases, source.meta.raw)
        count = len(document["benchmarks"])
    elif args.format == "bencher":
        document = to_bencher(cases)
        count = len(document)
    else:
        document = to_github_action_benchmark(cases, wall_time=args.wall_time)
        count = len(document)
    text = _indented(document)
    log = sys.stdout
    if args.output == "-":
        sys.stdout.write(text)
        log = sys.stderr
    else:
        write_no_follow(Path(args.output), text)
    skipped = unmeasured(cases)
    if skipped:
        print(f"left out (no ok run to measure): {printable(', '.join(skipped))}", file=log)
    where = "stdout" if args.output == "-" else args.output
    print(f"wrote {count} {args.format} entries to {where}", file=log)
    return 0


def _indented(document: Any) -> str:
    """``json.dumps(document, indent=2)`` and a newline, its pieces written as they are made:
    joined at once, the million pieces of 100,000 lines' document weigh more than the text."""
    buffer = io.StringIO()
    json.dump(document, buffer, indent=2)
    buffer.write("\n")
    return buffer.getvalue()
