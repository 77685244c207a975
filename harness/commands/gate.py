"""``memharness gate``: pass or fail a set of results, for CI (rules: ``memharness_s3.gate``).

Exit status 0 when the results pass, 1 when a case fails, 2 for bad input (a malformed budget,
tolerance or ``--expect``, a missing or damaged results file, a baseline with no case in common
with the results), so a CI step can tell "memory got
worse" from "the gate was called wrongly". The Markdown summary goes to ``--summary FILE`` and is
appended to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from memharness_s3.errors import UsageError
from memharness_s3.gate import (
    DEFAULT_NOISE_FACTOR,
    DEFAULT_TOLERANCE,
    evaluate,
    parse_budget,
    parse_expectation,
    parse_tolerance,
    render_markdown,
    render_text,
)
from memharness_s3.paths import write_no_follow
from memharness_s3.results.loader import load, results_file
from memharness_s3.results.writer import META_FILE

NAME = "gate"
HELP = "check results against a memory budget, expected failures and a baseline (exit 1: fail)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="DIR", help="results dir or results.jsonl")
    parser.add_argument(
        "--budget",
        required=True,
        help="largest peak RSS an ok worker run may reach, e.g. 512MiB (MB decimal, MiB binary)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="OLD",
        help="results dir or results.jsonl to compare median peaks with, case by case",
    )
    parser.add_argument(
        "--tolerance",
        default=DEFAULT_TOLERANCE,
        help=f"largest allowed rise of a case's median peak over the baseline, e.g. 10%% or 0.1 "
        f"(default {DEFAULT_TOLERANCE.replace('%', '%%')})",
    )
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="STRATEGY:MIN_SIZE:STATUS",
        help="a failure status (oom, error, timeout) that passes for STRATEGY on objects of at "
        f"least MIN_SIZE; repeatable; adds to {META_FILE}'s settings.expect",
    )
    parser.add_argument(
        "--noise-factor",
        type=float,
        default=DEFAULT_NOISE_FACTOR,
        help="with repeats, a rise smaller than this many times the spread measured over them "
        f"is noise, not a failure (default {DEFAULT_NOISE_FACTOR:g})",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="pass although cases of the baseline are missing from the results (default: fail)",
    )
    parser.add_argument(
        "--summary", type=Path, metavar="FILE", help="write the Markdown summary to FILE"
    )


def run(args: argparse.Namespace) -> int:
    budget = parse_budget(args.budget)
    tolerance = parse_tolerance(args.tolerance)
    if not args.noise_factor >= 0:
        raise UsageError(f"--noise-factor must be 0 or more, got {args.noise_factor:g}")
    extra = [parse_expectation(text) for text in args.expect]
    current = load(args.results)
    if args.baseline is not None and _same_results(args.results, args.baseline):
        raise UsageError(
            f"--baseline {args.baseline} is the results being gated: a gate against its own "
            "results compares nothing; give the results of another run"
        )
    baseline = load(args.baseline).results if args.baseline is not None else None
    verdict = evaluate(
        current.results,
        budget_bytes=budget,
        expectations=[*current.meta.expectations, *extra],
        baseline=baseline,
        baseline_name=None if args.baseline is None else str(args.baseline),
        tolerance=tolerance,
        allow_missing=args.allow_missing,
        noise_factor=args.noise_factor,
    )
    markdown = render_markdown(verdict)
    if args.summary is not None:
        write_no_follow(args.summary, markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        _append(Path(step_summary), markdown)
    print(render_text(verdict))
    return 0 if verdict.passed else 1


def _same_results(results: Path, baseline: Path) -> bool:
    """Whether the two paths name the same results file (a directory or its results.jsonl)."""
    try:
        return results_file(results).samefile(results_file(baseline))
    except OSError:
        return False


def _append(path: Path, text: str) -> None:
    """Add to the file GitHub Actions names for the step summary (it made the file)."""
    try:
        with path.open("a", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise UsageError(
            f"cannot write $GITHUB_STEP_SUMMARY {path}: {exc.strerror or exc}"
        ) from None
