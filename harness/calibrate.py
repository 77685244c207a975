"""The gate's own error rates, measured: ``python -m memharness_s3.experiments.calibrate``.

``nox -s calibrate`` runs both steps below with their defaults. (``memharness calibrate`` is the
user's command that writes the noise floor the gate reads; this module measures how the gate
does with and without it.)

``collect DIR --runs N --repeat R`` runs ``memharness run`` (the default matrix) N times with
``--repeat R`` into ``DIR/run-00`` ... : the same code and the same matrix each time, so any two
of them are an A/A pair, and a gate that fails one is a false failure.

``analyze DIR --repeats 1,3`` replays the gate on every ordered pair (baseline a, new b, a != b)
with each run cut to its first N repeats: how many pairs fail (false failures), how many cases
could not be compared; and, with a rise injected into each case of the new run in turn (+5 % of
its peaks, at least 8 MiB), how many of those rises the gate catches (detections), for all cases
and for transfer-manager's alone. ``--changed DIR2`` also gates every run of DIR2 (a real change,
e.g. ``--param chunked.chunk_size=64MiB``) against every run of DIR and counts the changed cases
that fail. The noise floor for each pair is ``--floor``: ``none``, ``leave-out`` (measured on the
other runs of DIR, never on the pair itself) or a calibration file.
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

from memharness_s3.analysis.noise import NoiseFloor
from memharness_s3.model.records import RunResult

INJECTED_FRACTION = 0.05
INJECTED_MIN_BYTES = 8 * 2**20
BUDGET_BYTES = 512 * 2**20
TRANSFER_MANAGER = "transfer-manager"


@dataclass(frozen=True)
class Rates:
    """How one gate setting did on the A/A pairs."""

    setting: str
    pairs: int
    false_failures: int
    injections: int
    detections: int
    unresolved_pairs: int = 0
    """Pairs with a case that could not be compared at this repeat count."""
    tm_injections: int = 0
    tm_detections: int = 0
    changed: int = 0
    """Gates of a changed run against a run of the same matrix."""
    changed_detections: int = 0

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


def floor_of(runs: Sequence[Sequence[RunResult]], source: str) -> NoiseFloor:
    """The noise floor ``memharness calibrate`` would write for these runs."""
    from memharness_s3.analysis.cases import Analysis
    from memharness_s3.analysis.noise import between_runs

    return between_runs([Analysis(run).cases for run in runs], source)


def rates(
    runs: Sequence[Sequence[RunResult]],
    tolerance: float,
    noise_factor: float,
    setting: str,
    *,
    floor: NoiseFloor | str | None = None,
    changed: Sequence[Sequence[RunResult]] = (),
) -> Rates:
    """The gate on every ordered pair of ``runs``, each case of the new run raised in turn.

    ``floor``: a noise floor, ``"leave-out"`` (for each pair, the floor of the other runs) or
    None. ``changed``: runs of changed code, each gated against every run of ``runs``.
    """
    from memharness_s3.analysis.gate import Verdict, evaluate

    def floors_for(*used: int) -> list[NoiseFloor]:
        if floor == "leave-out":
            others = [run for index, run in enumerate(runs) if index not in used]
            return [floor_of(others, "the other runs")]
        return [floor] if isinstance(floor, NoiseFloor) else []

    def gate(
        new: Sequence[RunResult], old: Sequence[RunResult], floors: list[NoiseFloor]
    ) -> Verdict:
        return evaluate(
            new,
            budget_bytes=BUDGET_BYTES,
            baseline=old,
            baseline_name="a",
            tolerance=tolerance,
            noise_factor=noise_factor,
            floors=floors,
            allow_missing=True,
        )

    counts = dict.fromkeys(
        ("pairs", "false", "unresolved", "inj", "det", "tm_inj", "tm_det", "chg", "chg_det"), 0
    )
    for (a, old), (b, new) in itertools.permutations(enumerate(runs), 2):
        floors = floors_for(a, b)
        verdict = gate(new, old, floors)
        counts["pairs"] += 1
        counts["false"] += not verdict.passed
        counts["unresolved"] += bool(verdict.unresolved)
        for case_id in sorted({r.case_id for r in new if r.status == "ok"}):
            strategy = next(r.strategy for r in new if r.case_id == case_id)
            raised = gate(inject(new, case_id), old, floors)
            caught = any(c.case_id == case_id and c.failed for c in raised.cases)
            counts["inj"] += 1
            counts["det"] += caught
            if strategy == TRANSFER_MANAGER:
                counts["tm_inj"] += 1
                counts["tm_det"] += caught
    for (a, old), new in itertools.product(enumerate(runs), changed):
        verdict = gate(new, old, floors_for(a))
        counts["chg"] += 1
        counts["chg_det"] += any(c.changes and c.failed for c in verdict.cases)
    return Rates(
        setting,
        counts["pairs"],
        counts["false"],
        counts["inj"],
        counts["det"],
        counts["unresolved"],
        counts["tm_inj"],
        counts["tm_det"],
        counts["chg"],
        counts["chg_det"],
    )


def load_runs(directory: Path, repeats: int | None = None) -> list[list[RunResult]]:
    """Every run under ``directory``; with ``repeats``, each cut to its first ``repeats``."""
    from memharness_s3.results.loader import load

    runs = [load(path).results for path in sorted(directory.glob("run-*")) if path.is_dir()]
    if repeats is not None:
        runs = [[r for r in run if r.repeat < repeats] for run in runs]
    return runs


def analyze(
    directory: Path,
    repeats: Sequence[int],
    *,
    floor: NoiseFloor | str | None,
    changed: Path | None = None,
    tolerance: float = 0.03,
    noise_factor: float = 3.0,
) -> list[Rates]:
    """One row of rates per repeat count."""
    found = []
    for count in repeats:
        runs = load_runs(directory, count)
        if len(runs) < 2:
            raise SystemExit(f"{directory}: fewer than two runs to pair")
        others = load_runs(changed, count) if changed is not None else []
        name = floor if isinstance(floor, str) else (floor.source if floor else "none")
        setting = f"{count} repeats, floor {name}"
        found.append(rates(runs, tolerance, noise_factor, setting, floor=floor, changed=others))
    return found


def render(found: Sequence[Rates], runs: int) -> str:
    lines = [
        f"{runs} runs, every ordered pair an A/A pair; detection: +5 % (at least 8 MiB) injected "
        "into each case of the new run in turn; changed: every changed run against every run",
        f"{'setting':44} {'false failures':>16} {'not comparable':>16} {'detected':>18} "
        f"{'transfer-manager':>18} {'changed caught':>16}",
    ]
    for r in found:
        lines.append(
            f"{r.setting:44} {f'{r.false_failures}/{r.pairs}':>16} "
            f"{f'{r.unresolved_pairs}/{r.pairs}':>16} "
            f"{f'{r.detections}/{r.injections}':>10} ({r.detection_rate:5.1%})"
            f" {f'{r.tm_detections}/{r.tm_injections}':>18}"
            f" {f'{r.changed_detections}/{r.changed}':>16}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memharness_s3.experiments.calibrate", description=__doc__
    )
    sub = parser.add_subparsers(dest="step", required=True)
    collecting = sub.add_parser("collect")
    collecting.add_argument("dir", type=Path)
    collecting.add_argument("--runs", type=int, default=31)
    collecting.add_argument("--repeat", type=int, default=3)
    collecting.add_argument(
        "--strategies", help="only these strategies (default: the default matrix's all)"
    )
    collecting.add_argument(
        "run_options", nargs=argparse.REMAINDER, help="after --: more memharness run options"
    )
    analyzing = sub.add_parser("analyze")
    analyzing.add_argument("dir", type=Path)
    analyzing.add_argument(
        "--repeats", default="1,3", help="repeat counts to cut each run to (default 1,3)"
    )
    analyzing.add_argument(
        "--floor",
        default="leave-out",
        help="none, leave-out (default: from the other runs of DIR) or a calibration file",
    )
    analyzing.add_argument("--changed", type=Path, help="runs of changed code to gate")
    analyzing.add_argument("--noise-factor", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.step == "collect":
        extra = ["--strategies", args.strategies] if args.strategies else []
        extra += [option for option in args.run_options if option != "--"]
        collect(args.dir, args.runs, args.repeat, extra)
        return 0
    from memharness_s3.results import calibration

    floor: NoiseFloor | str | None
    if args.floor == "none":
        floor = None
    elif args.floor == "leave-out":
        floor = args.floor
    else:
        floor = calibration.read(Path(args.floor))
    counts = [int(part) for part in args.repeats.split(",")]
    found = analyze(
        args.dir, counts, floor=floor, changed=args.changed, noise_factor=args.noise_factor
    )
    print(render(found, len(list(args.dir.glob("run-*")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
