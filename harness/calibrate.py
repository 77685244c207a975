"""The gate's own error rates, measured: ``python -m memharness_s3.calibrate``.

``nox -s calibrate`` runs both steps below with their defaults.

``collect DIR --runs N --repeat R`` runs ``memharness run`` (the default matrix) N times with
``--repeat R`` into ``DIR/run-00`` ... : the same code and the same matrix each time, so any two
of them are an A/A pair, and a gate that fails one is a false failure.

``analyze DIR`` replays the gate on every ordered pair (baseline a, new b, a != b): how many pairs
fail (false failures), and, with a rise injected into one case of the new run (+5 % of its peaks,
at least 8 MiB, each case in turn), how many of those the gate catches (detections). It does so
for a few noise models and tolerances and prints a table, so the gate's defaults can be chosen
from data rather than guessed.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memharness_s3.records import RunResult

INJECTED_FRACTION = 0.05
INJECTED_MIN_BYTES = 8 * 2**20
BUDGET_BYTES = 512 * 2**20


@dataclass(frozen=True)
class Rates:
    """How one gate setting did on the A/A pairs."""

    setting: str
    pairs: int
    false_failures: int
    injections: int
    detections: int

    @property
    def false_failure_rate(self) -> float:
        return self.false_failures / self.pairs if self.pairs else 0.0

    @property
    def detection_rate(self) -> float:
        return self.detections / self.injections if self.injections else 0.0


def collect(out: Path, runs: int, repeat: int, extra: Sequence[str] = ()) -> None:
    """``runs`` runs of ``memharness run --repeat repeat`` into ``out/run-NN``, in order."""
    out.mkdir(parents=True, exist_ok=True)
    for index in range(runs):
        target = out / f"run-{index:02d}"
        if (target / "results.jsonl").exists():
            continue
        command = [sys.executable, "-m", "memharness_s3.cli", "run", "--repeat", str(repeat)]
        subprocess.run([*command, "--out", str(target), *extra], check=True)


def inject(results: Sequence[RunResult], case_id: str) -> list[RunResult]:
    """A copy of ``results`` with the peaks of case ``case_id`` raised by 5 % (>= 8 MiB)."""
    raised = []
    for result in results:
        if result.case_id == case_id and result.peak_rss_bytes is not None:
            rise = max(round(result.peak_rss_bytes * INJECTED_FRACTION), INJECTED_MIN_BYTES)
            result = dataclasses.replace(result, peak_rss_bytes=result.peak_rss_bytes + rise)
        raised.append(result)
    return raised


def rates(
    runs: Sequence[Sequence[RunResult]], tolerance: float, noise_factor: float, setting: str
) -> Rates:
    """The gate (``tolerance``, spread scaled by ``noise_factor``) on every ordered pair."""
    from memharness_s3.gate import evaluate

    pairs = failures = injections = detections = 0
    for old, new in itertools.permutations(runs, 2):
        pairs += 1
        verdict = evaluate(
            new,
            budget_bytes=BUDGET_BYTES,
            baseline=old,
            baseline_name="a",
            tolerance=tolerance,
            noise_factor=noise_factor,
        )
        failures += not verdict.passed
        case_ids = sorted({r.case_id for r in new if r.status == "ok"})
        target = case_ids[pairs % len(case_ids)]
        injected = evaluate(
            inject(new, target),
            budget_bytes=BUDGET_BYTES,
            baseline=old,
            baseline_name="a",
            tolerance=tolerance,
            noise_factor=noise_factor,
        )
        injections += 1
        detections += any(c.case_id == target and c.failed for c in injected.cases)
    return Rates(setting, pairs, failures, injections, detections)


SETTINGS: tuple[tuple[float, float], ...] = (
    (0.10, 1.0),
    (0.05, 1.0),
    (0.03, 1.0),
    (0.05, 2.0),
    (0.03, 2.0),
    (0.02, 2.0),
    (0.03, 3.0),
    (0.02, 0.5),
)
"""(tolerance, noise factor) pairs the analysis tries; the gate's default is the first."""


def analyze(directory: Path, repeats: int | None = None) -> list[Rates]:
    """Every setting's rates over the runs in ``directory``; with ``repeats``, as if each run had
    had only its first ``repeats`` repeats (how many repeats a case needs)."""
    from memharness_s3.results.loader import load

    runs = [load(path).results for path in sorted(directory.glob("run-*")) if path.is_dir()]
    if repeats is not None:
        runs = [[r for r in run if r.repeat < repeats] for run in runs]
    if len(runs) < 2:
        raise SystemExit(f"{directory}: fewer than two runs to pair")
    return [
        rates(runs, tolerance, factor, f"tolerance {tolerance:.0%}, noise x{factor:g}")
        for tolerance, factor in SETTINGS
    ]


def render(found: Sequence[Rates], runs: int) -> str:
    lines = [
        f"{runs} runs, every ordered pair an A/A pair; detection: +5 % (at least 8 MiB) injected "
        "into one case of the new run, cases in turn",
        f"{'gate setting':28} {'false failures':>20} {'detected':>20}",
    ]
    for r in found:
        lines.append(
            f"{r.setting:28} {f'{r.false_failures}/{r.pairs}':>12} ({r.false_failure_rate:5.1%})"
            f" {f'{r.detections}/{r.injections}':>12} ({r.detection_rate:5.1%})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memharness_s3.calibrate", description=__doc__)
    sub = parser.add_subparsers(dest="step", required=True)
    collecting = sub.add_parser("collect")
    collecting.add_argument("dir", type=Path)
    collecting.add_argument("--runs", type=int, default=31)
    collecting.add_argument("--repeat", type=int, default=3)
    collecting.add_argument(
        "--strategies", help="only these strategies (default: the default matrix's all)"
    )
    analyzing = sub.add_parser("analyze")
    analyzing.add_argument("dir", type=Path)
    analyzing.add_argument(
        "--repeats", type=int, help="use only each run's first N repeats (default: all)"
    )
    args = parser.parse_args(argv)
    if args.step == "collect":
        extra = ["--strategies", args.strategies] if args.strategies else []
        collect(args.dir, args.runs, args.repeat, extra)
    else:
        found = analyze(args.dir, args.repeats)
        print(render(found, len(list(args.dir.glob("run-*")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
