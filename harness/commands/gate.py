"""``memharness gate``: pass or fail a set of results, for CI (rules:
``memharness_s3.analysis.gate``).

Exit status 0 when the results pass (warnings and cases that cannot be compared at their repeat
count included), 1 when a case fails, 2 for bad input (a malformed budget, tolerance, warning or
``--expect``, a missing or damaged results or calibration file, a baseline with no case in
common with the results), so a CI step can tell "memory got worse" from "the gate was called
wrongly". The Markdown summary goes to ``--summary FILE`` and is appended to
``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it.

The noise floor for comparisons with fewer than 3 repeats a side comes from, each when present:
``--calibration FILE`` (else ``calibration.json`` beside the baseline's results.jsonl, else the
calibration of the default matrix on moto that ships with memharness), and the history of the
baseline when ``--baseline`` is given more than once (oldest first; the last is the one compared
with).
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from memharness_s3.analysis.gate import DEFAULT_NOISE_FACTOR, DEFAULT_TOLERANCE, evaluate
from memharness_s3.analysis.noise import NoiseFloor
from memharness_s3.config.gate_options import parse_budget, parse_expectation, parse_tolerance
from memharness_s3.errors import UsageError
from memharness_s3.paths import write_no_follow
from memharness_s3.results import calibration
from memharness_s3.results.loader import load, results_file
from memharness_s3.results.writer import META_FILE
from memharness_s3.views.gate import render_markdown, render_text

if TYPE_CHECKING:
    from memharness_s3.model.records import RunResult

PACKAGED_CALIBRATION = "calibration-default.json"
"""The default matrix's calibration on moto, measured where memharness is developed (README,
'How far the gate can be trusted'); it knows only the default matrix's cases."""
PACKAGED_SOURCE = "the default matrix's shipped calibration"

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
        action="append",
        metavar="OLD",
        help="results dir or results.jsonl to compare median peaks with, case by case; given "
        "several times (oldest first), the last is compared with and all of them measure how "
        "much the same case moves between runs (a noise floor)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="noise floor written by memharness calibrate (default: calibration.json beside the "
        "baseline's results.jsonl, else the one shipped for the default matrix on moto)",
    )
    parser.add_argument(
        "--warn",
        metavar="PCT",
        help="a rise above this but within --tolerance prints WARN and exits 0, e.g. 1%%",
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
        help="a rise smaller than this many standard errors of the difference of the two medians "
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
    warn = None if args.warn is None else parse_tolerance(args.warn, "--warn")
    if warn is not None and warn >= tolerance:
        raise UsageError(
            f"--warn {args.warn} must be below --tolerance {args.tolerance}: a rise above the "
            "tolerance fails"
        )
    extra = [parse_expectation(text) for text in args.expect]
    current = load(args.results)
    for path in args.baseline or []:
        if _same_results(args.results, path):
            raise UsageError(
                f"--baseline {path} is the results being gated: a gate against its own "
                "results compares nothing; give the results of another run"
            )
    baselines = [load(path).results for path in args.baseline or []]
    floors = _floors(args.calibration, args.baseline or [], baselines)
    verdict = evaluate(
        current.results,
        budget_bytes=budget,
        expectations=[*current.meta.expectations, *extra],
        baseline=baselines[-1] if baselines else None,
        baseline_name=str(args.baseline[-1]) if args.baseline else None,
        tolerance=tolerance,
        allow_missing=args.allow_missing,
        noise_factor=args.noise_factor,
        warn=warn,
        floors=floors,
    )
    markdown = render_markdown(verdict)
    if args.summary is not None:
        write_no_follow(args.summary, markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        _append(Path(step_summary), markdown)
    print(render_text(verdict))
    return 0 if verdict.passed else 1


def _floors(
    given: Path | None, paths: list[Path], baselines: list[list[RunResult]]
) -> list[NoiseFloor]:
    """The noise floors the comparison may use (module docstring); none without a baseline."""
    from memharness_s3.analysis.cases import Analysis
    from memharness_s3.analysis.noise import between_runs

    # A given file is read even without a baseline, so that a bad one is reported.
    floors = [calibration.read(given)] if given is not None else []
    if not baselines:
        return []
    beside = results_file(paths[-1]).parent / calibration.DEFAULT_NAME
    packaged = resources.files("memharness_s3.fixtures") / PACKAGED_CALIBRATION
    if given is None and beside.is_file():
        floors.append(calibration.read(beside))
    elif given is None and packaged.is_file():
        with resources.as_file(packaged) as path:
            floors.append(calibration.read(path, PACKAGED_SOURCE))
    if len(baselines) > 1:
        history = [Analysis(results).cases for results in baselines]
        floors.append(between_runs(history, f"the baseline's history ({len(baselines)} runs)"))
    return floors


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
