"""``memharness report DIR``: write DIR/index.html, a self-contained HTML report of a run.

A view over what ``memharness run`` wrote (results.jsonl, meta.json, timelines): it measures
nothing, so it can be re-run on old results, or with another ``--budget``, at any time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memharness_s3.config.sizes import parse_size_with_unit

NAME = "report"
HELP = "write an HTML report (DIR/index.html) of a results directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", type=Path, help="a results directory (results.jsonl, meta.json)"
    )
    parser.add_argument(
        "--budget",
        metavar="SIZE",
        help="memory budget for the verdicts and safe sizes, e.g. 512MiB: each worker's peak "
        "is held against it for per-worker limits, the node's charged peak for node-scoped runs "
        "(default: the run's --memory-limit, else 512MiB)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: Jinja2 and the report's modules are only needed by this subcommand.
    from memharness_s3.views.html.page import render_report

    budget = parse_size_with_unit(args.budget, "--budget") if args.budget is not None else None
    print(render_report(args.dir, budget))
    return 0
