"""``memharness calibrate DIR DIR ...``: the noise floor the gate compares single repeats against.

Each DIR is a results directory of the same code and matrix (one ``memharness run`` each), or a
folder of such directories (``python -m memharness_s3.experiments.calibrate collect`` makes
``run-00`` ...).
For every case that at least two runs have, the file records how far its repeats scattered
between runs (``analysis.noise.between_runs``); ``memharness gate --calibration FILE`` reads it.
Exit status 0 when the file is written, 2 for bad input (fewer than two runs, no case in two of
them, a damaged results directory).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from memharness_s3.errors import UsageError

if TYPE_CHECKING:
    from memharness_s3.analysis.noise import NoiseFloor

NAME = "calibrate"
HELP = "measure how much each case's peak moves between runs of the same code (for the gate)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dirs",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="results directories of the same code, or folders of them",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("calibration.json"),
        metavar="FILE",
        help="where to write the calibration (default: calibration.json; the gate finds it "
        "there when it sits in the baseline directory)",
    )


def run(args: argparse.Namespace) -> int:
    from memharness_s3.analysis.cases import Analysis
    from memharness_s3.analysis.noise import between_runs
    from memharness_s3.results import calibration
    from memharness_s3.results.loader import load, results_file

    found: list[Path] = []
    for path in args.dirs:
        if path.is_dir() and not results_file(path).exists():
            found += sorted(p for p in path.iterdir() if results_file(p).is_file())
        else:
            found.append(path)
    if len(found) < 2:
        raise UsageError(
            f"calibrate needs at least two results directories of the same code, got {len(found)}"
        )
    runs = [Analysis(load(path).results).cases for path in found]
    floor = between_runs(runs, f"calibration {args.output}")
    if not floor.cases:
        raise UsageError(
            "no case has an ok run in two of these directories with three repeats in all: "
            "nothing to calibrate"
        )
    calibration.write(args.output, floor, [str(path) for path in found])
    print(render(floor, len(found), args.output))
    return 0


def render(floor: NoiseFloor, runs: int, output: Path) -> str:
    """What ``calibrate`` prints: per case its scatter and the rise the gate could detect."""
    from memharness_s3.analysis.gate import DEFAULT_NOISE_FACTOR
    from memharness_s3.analysis.noise import detectable_rise
    from memharness_s3.config.sizes import format_mb

    width = max(len(noise.label) for noise in floor.cases.values())
    lines = [
        f"{'case':{width}}  runs  repeats  sigma MB  spread MB  detects at 1 / 3 / 10 repeats (MB)",
    ]
    for noise in sorted(floor.cases.values(), key=lambda n: (n.size_bytes, n.label)):
        detects = " / ".join(
            format_mb(detectable_rise(noise.sigma_bytes, n, n, DEFAULT_NOISE_FACTOR))
            for n in (1, 3, 10)
        )
        lines.append(
            f"{noise.label:{width}}  {noise.runs:4}  {noise.repeats:7}  "
            f"{format_mb(noise.sigma_bytes):>8}  {format_mb(noise.spread_bytes):>9}  {detects}"
        )
    lines.append(
        f"wrote {output}: {len(floor.cases)} cases from {runs} runs (sigma: the MAD of every "
        "repeat around their median, as a standard deviation; MB = 10^6 bytes)"
    )
    return "\n".join(lines)
