"""Does measuring change what is measured? ``python -m memharness_s3.experiments.fidelity``.

``nox -s fidelity`` runs it with the defaults below.

Each strategy's own fetch code runs several ways on the same object and server, interleaved
(repeat after repeat, strategy by strategy, the modes in an order shuffled afresh for every
repeat) with dirty pages flushed before every run:

- ``plain``: a bare process imports boto3 and the strategy, builds its client, fetches, and
  times the fetch and reads its own ``VmHWM``: what a worker does with nobody watching;
- ``plain-again``: the same plain process once more, an A/A control: how far two arms that do
  exactly the same thing land apart is the experiment's own resolution, against which
  harness/plain is read;
- ``sampled``: the plain process, watched by the harness's own monitor (``measure.run_group``,
  at the sampling interval given): what the sampler costs;
- ``harness``: the case as ``memharness run`` measures it (``runner.run_case``).

The order is shuffled because a run may inherit the machine's state from the one before it
(where the scheduler left the server and any other job): in a fixed order every mode always
follows the same one, and whatever carries over lands on that mode alone.

It prints, per strategy and mode, the median and range of MB/s (with the share of a plain GET
of the object, ``wire``) and of the peak, then each mode's ratio to plain, by median and by
mean, each with a 90 % bootstrap interval (repeats resampled in pairs), and how many pairs it
lost. Both, because on a busy machine a single-stream fetch runs at one of two speeds, decided
by where the scheduler puts the client and the server beside the other job (README, Measurement
fidelity): the median of such runs jumps from one speed to the other when the share of fast
runs crosses a half, while the mean moves in proportion to the share, so the mean's interval is
narrower (chunked, 60 repeats under one busy loop: 0.17 wide against 0.55). With
``plain-again`` in the modes, the harness verdict also says whether harness/plain lies inside
the A/A control's interval. The goal the project set: harness/plain at least 0.95 for
throughput (by median), and the peak within max(5 %, 8 MiB), on a quiet machine and on a busy
one: ``--busy N`` keeps N spinning processes running beside the whole experiment
(``busy.busy_loops``), as another job on the machine would.

On a virtual machine that hands freed memory back to its host, every run first waits until what
the run before it freed has gone back (``--host-memory settle``, the default; ``host_memory``):
otherwise a run's speed depends on whether that happened while it ran, which here alternated
from one run to the next and halved every second run. The table's "host passes" says how many
runs it still overlapped, where the kernel counts it.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MODES = ("plain", "plain-again", "sampled", "harness")
REQUIRED_MODES = ("plain", "harness")
BOOTSTRAP_RESAMPLES = 2000
DEFAULT_STRATEGIES = ("read-all", "chunked", "readinto", "range", "transfer-manager")
MIB = 2**20
HOST_MEMORY_ABSENT = "no free page reporting to a host"
HOST_MEMORY_SETTLED = "freed memory handed back to the host before every run (free page reporting)"
HOST_MEMORY_LEFT = (
    "free page reporting to the host left to land where it falls (--host-memory leave)"
)


@dataclass(frozen=True)
class Sample:
    """One fetch: its mode, and what it measured."""

    strategy: str
    mode: str
    repeat: int
    wall_s: float
    mb_s: float
    peak_bytes: int
    baseline_bytes: int
    host_reported_bytes: int | None = None
    """Memory the guest handed back to its host while the run ran (``host_memory``), where the
    kernel counts it."""


# ---------------------------------------------------------------------------------------------
# The plain process: a strategy's fetch with nothing of the harness around it


def fetch_plain(job: dict[str, Any], report_path: Path) -> None:
    """Run one strategy's fetch as a bare worker would; write wall, bytes and VmHWM as JSON."""
    import boto3

    module, _, name = job["target"].partition(":")
    strategy = getattr(importlib.import_module(module), name)()
    from memharness_s3.execution.procfs import current_rss, own_peak_rss
    from memharness_s3.strategies.base import FetchContext

    session = boto3.session.Session(region_name=job["region"])
    s3 = session.client("s3", endpoint_url=job["endpoint_url"])
    tmp_dir = Path(tempfile.mkdtemp(prefix="memharness-fidelity-"))
    try:
        ctx = FetchContext(
            s3=s3,
            bucket=job["bucket"],
            key=job["key"],
            tmp_dir=tmp_dir,
            params=job["params"],
            make_client=lambda service: session.client(  # type: ignore[call-overload]
                service, endpoint_url=job["endpoint_url"]
            ),
        )
        gc.collect()
        baseline = current_rss()
        started = time.perf_counter()
        fetched = strategy.fetch(ctx)
        wall = time.perf_counter() - started
        size = len(fetched.data) if fetched.data is not None else Path(fetched.path).stat().st_size
        del fetched
        report = {"wall_s": wall, "bytes": size, "peak": own_peak_rss(), "baseline": baseline}
        report_path.write_text(json.dumps(report))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The experiment


def _plain_run(
    job: dict[str, Any], env: dict[str, str], scratch: Path, interval_s: float | None
) -> dict[str, Any]:
    """The plain process, alone (``interval_s`` None) or watched by the harness's monitor."""
    from memharness_s3.execution.local.measure import WorkerSpawn, run_group

    report = scratch / "plain.json"
    report.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "memharness_s3.experiments.fidelity",
        "--fetch",
        json.dumps(job),
        str(report),
    ]
    if interval_s is None:
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    else:
        spawn = WorkerSpawn(argv, env, scratch / "plain.log", scratch)
        group = run_group([spawn], 3600.0, interval_s=interval_s)
        if group.workers[0].exit_code != 0:
            raise RuntimeError(f"plain fetch failed: see {scratch / 'plain.log'}")
    found: dict[str, Any] = json.loads(report.read_text())
    return found


def run_experiment(
    backend_name: str,
    size_text: str,
    strategies: Sequence[str],
    repeats: int,
    interval_s: float,
    work_dir: Path,
    modes: Sequence[str] = MODES,
    seed: int = 1,
    log: Any = sys.stderr,
    settle_host_memory: bool = True,
) -> tuple[list[Sample], list[float]]:
    """Every strategy x mode x repeat, interleaved (the modes shuffled per repeat and strategy by
    ``seed``); and the wire's MB/s measured around them. With ``settle_host_memory`` (and a
    machine that reports freed memory to its host), every run waits until what the run before
    it freed has been handed back (``host_memory``)."""
    from memharness_s3.config import registry
    from memharness_s3.execution.host_memory import HostReporting
    from memharness_s3.execution.local.runner import run_case, settle_page_cache
    from memharness_s3.fixtures.catalog import DEFAULT_SEED
    from memharness_s3.model.records import Case
    from memharness_s3.plan.runs import PlannedRun
    from memharness_s3.results.writer import ResultsWriter
    from memharness_s3.s3 import wire
    from memharness_s3.s3.backends import open_backend
    from memharness_s3.s3.fixture_cache import cache_root, ensure_fixture, resolve_fixture_size
    from memharness_s3.s3.objects import ensure_bucket, fixture_ref, make_client, upload_fixture

    name, size = resolve_fixture_size(size_text)
    samples: list[Sample] = []
    speeds: list[float] = []
    with open_backend(backend_name, None, None, work_dir) as backend:
        s3 = make_client(backend)
        ensure_bucket(s3, backend, "fidelity", create=True)
        fixture = ensure_fixture(name, size, DEFAULT_SEED, cache_root())
        upload_fixture(s3, backend, "fidelity", fixture)
        ref = fixture_ref("fidelity", fixture)
        env = {**os.environ, **backend.worker_env}

        def wire_speeds() -> list[float]:
            keys = [ref.key]
            found = wire.measure(backend.endpoint_url, backend.region, "fidelity", keys, env)
            return found[ref.key]

        speeds += wire_speeds()
        print(f"wire before: {speeds} MB/s", file=log)
        host = HostReporting(settle_host_memory)
        shuffler = random.Random(seed)
        for repeat in range(repeats):
            for strategy in strategies:
                params = dict(registry.load(strategy).params)
                job = {
                    "target": registry.registered()[strategy].target,
                    "endpoint_url": backend.endpoint_url,
                    "region": backend.region,
                    "bucket": "fidelity",
                    "key": ref.key,
                    "params": params,
                }
                order = list(modes)
                shuffler.shuffle(order)
                for mode in order:
                    scratch = work_dir / f"{strategy}-{mode}-{repeat}"
                    scratch.mkdir(parents=True)
                    settle_page_cache()
                    host.before_run()
                    if mode == "harness":
                        case = Case(strategy, name, size, params=params)
                        (result,) = run_case(
                            PlannedRun.of(case, [ref], backend.name, repeat),
                            backend,
                            ResultsWriter(scratch),
                            3600.0,
                            sample_interval_s=interval_s,
                        )
                        if result.status != "ok" or not result.wall_s:
                            raise RuntimeError(f"{strategy} in the harness: {result.error}")
                        wall, peak = result.wall_s, result.peak_rss_bytes or 0
                        baseline = result.baseline_rss_bytes or 0
                    else:
                        found = _plain_run(
                            job, env, scratch, interval_s if mode == "sampled" else None
                        )
                        wall, peak, baseline = found["wall_s"], found["peak"], found["baseline"]
                    reported = host.reported_during_run()
                    host.released(size)
                    sample = Sample(
                        strategy, mode, repeat, wall, size / 1e6 / wall, peak, baseline, reported
                    )
                    samples.append(sample)
                    shutil.rmtree(scratch, ignore_errors=True)
                    print(
                        f"[{repeat + 1}/{repeats}] {strategy:16} {mode:8} {sample.mb_s:7.1f} MB/s "
                        f"peak {peak / 1e6:7.1f} MB",
                        file=log,
                    )
        speeds += wire_speeds()
        print(f"wire after: {speeds[-3:]} MB/s", file=log)
    return samples, speeds


# ---------------------------------------------------------------------------------------------
# The table


def _host_passes(runs: Sequence[Sample], notable: int) -> str:
    """How many of ``runs`` the guest handed at least ``notable`` bytes back to its host during."""
    overlapped = sum(1 for s in runs if (s.host_reported_bytes or 0) >= notable)
    return f"{overlapped} of {len(runs)}"


def _median_cost(runs: Sequence[Sample]) -> float:
    return statistics.median([s.peak_bytes - s.baseline_bytes for s in runs])


def _span(values: Sequence[float], digits: int) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def _pairs(runs: Sequence[Sample], plain: Sequence[Sample]) -> list[tuple[float, float]]:
    """(MB/s of the run, MB/s of plain) for every repeat both have."""
    by_repeat = {s.repeat: s.mb_s for s in plain}
    return [(s.mb_s, by_repeat[s.repeat]) for s in runs if s.repeat in by_repeat]


Statistic = Callable[[Sequence[float]], float]
"""What a ratio compares: ``statistics.median`` (the goal's) or ``statistics.mean``."""


def _ratio(pairs: Sequence[tuple[float, float]], statistic: Statistic) -> float:
    return statistic([a for a, _ in pairs]) / statistic([b for _, b in pairs])


def ratio_interval(
    runs: Sequence[Sample],
    plain: Sequence[Sample],
    seed: int = 0,
    statistic: Statistic = statistics.median,
) -> tuple[float, float, float]:
    """``statistic`` (the median unless given) of ``runs``' MB/s over that of ``plain``, and a
    90 % bootstrap interval of it.

    Repeats are resampled in pairs (a repeat's run of each mode together), so what the machine
    did during one repeat stays with both of its runs. Deterministic for a given ``seed``.
    """
    pairs = _pairs(runs, plain)
    draw = random.Random(seed)
    resampled = sorted(
        _ratio(draw.choices(pairs, k=len(pairs)), statistic) for _ in range(BOOTSTRAP_RESAMPLES)
    )
    low = resampled[int(0.05 * BOOTSTRAP_RESAMPLES)]
    high = resampled[int(0.95 * BOOTSTRAP_RESAMPLES) - 1]
    return _ratio(pairs, statistic), low, high


Interval = tuple[float, float, float]
"""A ratio and the low and high ends of its 90 % interval."""
STATISTICS: tuple[tuple[str, Statistic], ...] = (
    ("median", statistics.median),
    ("mean", statistics.mean),
)


def _against_control(harness: dict[str, Interval], control: dict[str, Interval]) -> str:
    """Whether harness/plain lies inside the A/A control's interval, by each statistic."""
    verdicts = []
    for name, _ in STATISTICS:
        ratio, (_, low, high) = harness[name][0], control[name]
        inside = "inside" if low <= ratio <= high else "OUTSIDE"
        verdicts.append(f"by {name} {ratio:.2f}, {inside} {low:.2f}-{high:.2f}")
    return "; against the A/A control's 90 % interval: " + ", ".join(verdicts)


def render(
    samples: Sequence[Sample],
    wire_speeds: Sequence[float],
    size_text: str,
    interval_s: float,
    busy: int = 0,
    seed: int | None = None,
    host_memory: str = HOST_MEMORY_ABSENT,
) -> str:
    """The fidelity table: per strategy and mode, medians (ranges); then each mode against
    plain, and the goals for harness/plain. ``host_memory`` says what the runs did about memory
    handed back to the host (``HOST_MEMORY_*``)."""
    wire_mb_s = statistics.median(wire_speeds)
    repeats = len({s.repeat for s in samples})
    order = "in an order shuffled per repeat" + (f" (seed {seed})" if seed is not None else "")
    from memharness_s3.model.records import HOST_REPORTED_NOTABLE_BYTES as NOTABLE

    counted = any(s.host_reported_bytes is not None for s in samples)
    lines = [
        f"fidelity: {size_text} object, {repeats} interleaved repeats, modes {order}, sampling "
        f"every {interval_s * 1000:g} ms, {busy} busy loop(s) beside it, dirty pages flushed "
        f"before every run, {host_memory}; wire (plain GET, no SDK) {_span(wire_speeds, 0)} "
        "MB/s. Medians (min-max); MB = 10^6 bytes."
        + (
            f" 'host passes': runs during which the guest handed at least {NOTABLE // MIB} MiB "
            "back to its host."
            if counted
            else ""
        ),
        "",
        f"{'strategy':16} {'mode':11} {'MB/s':>18} {'of wire':>7} {'peak MB':>20} "
        f"{'peak-base MB':>14}" + (f" {'host passes':>11}" if counted else ""),
    ]
    strategies = list(dict.fromkeys(s.strategy for s in samples))
    ratios = []
    verdicts = []
    for strategy in strategies:
        by_mode = {
            mode: runs
            for mode in MODES
            if (runs := [s for s in samples if s.strategy == strategy and s.mode == mode])
        }
        for mode, runs in by_mode.items():
            speeds = [s.mb_s for s in runs]
            lines.append(
                f"{strategy:16} {mode:11} {_span(speeds, 0):>18} "
                f"{statistics.median(speeds) / wire_mb_s:7.2f} "
                f"{_span([s.peak_bytes / 1e6 for s in runs], 1):>20} "
                f"{_median_cost(runs) / 1e6:14.1f}"
                + (f" {_host_passes(runs, NOTABLE):>11}" if counted else "")
            )
        plain, harness = by_mode["plain"], by_mode["harness"]
        intervals = {
            mode: {name: ratio_interval(runs, plain, statistic=stat) for name, stat in STATISTICS}
            for mode, runs in by_mode.items()
            if mode != "plain"
        }
        for mode, found in intervals.items():
            (median, low, high), (mean, mean_low, mean_high) = found["median"], found["mean"]
            runs = by_mode[mode]
            lower = sum(1 for run, base in _pairs(runs, plain) if run < base)
            what = " (A/A control: the experiment's resolution)" if mode == "plain-again" else ""
            ratios.append(
                f"{strategy:16} {mode + '/plain':19} {median:5.2f} ({low:.2f}-{high:.2f}), "
                f"by mean {mean:.2f} ({mean_low:.2f}-{mean_high:.2f}), lower in {lower} of "
                f"{len(runs)} pairs{what}"
            )
        ratio = intervals["harness"]["median"][0]
        peak_plain, peak_harness = _median_cost(plain), _median_cost(harness)
        allowed = max(0.05 * peak_plain, 8 * MIB)
        control = (
            _against_control(intervals["harness"], intervals["plain-again"])
            if "plain-again" in intervals
            else ""
        )
        verdicts.append(
            f"{strategy}: harness/plain throughput {ratio:.2f} (goal >= 0.95: "
            f"{'met' if ratio >= 0.95 else 'NOT met'}){control}; peak-base "
            f"{peak_harness / 1e6:.1f} vs {peak_plain / 1e6:.1f} MB (goal within "
            f"{allowed / 1e6:.1f} MB: "
            f"{'met' if abs(peak_harness - peak_plain) <= allowed else 'NOT met'})"
        )
    legend = "each mode/plain by median (90 % interval), by mean (90 % interval):"
    return "\n".join([*lines, "", legend, *ratios, "", *verdicts])


def _modes(text: str) -> list[str]:
    """A comma-separated list of modes that includes plain and harness."""
    chosen = [mode.strip() for mode in text.split(",") if mode.strip()]
    unknown = [mode for mode in chosen if mode not in MODES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}"
        )
    missing = [mode for mode in REQUIRED_MODES if mode not in chosen]
    if missing:
        raise argparse.ArgumentTypeError(f"the modes must include {' and '.join(missing)}")
    return list(dict.fromkeys(chosen))


def _count(text: str) -> int:
    """A whole number of busy loops, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of busy loops")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memharness_s3.experiments.fidelity", description=__doc__
    )
    parser.add_argument("--backend", default="s3rver", help="moto or s3rver (default s3rver)")
    parser.add_argument("--size", default="750MB", help="object size (default 750MB)")
    parser.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES))
    parser.add_argument("--repeat", type=int, default=8, help="interleaved repeats (default 8)")
    parser.add_argument("--sample-interval", type=float, default=None, help="seconds")
    parser.add_argument(
        "--busy",
        type=_count,
        default=0,
        help="spinning processes kept running beside the whole experiment (default 0)",
    )
    parser.add_argument(
        "--modes",
        type=_modes,
        default=list(MODES),
        help=f"which modes to run (default {','.join(MODES)}; plain and harness always)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the per-repeat mode order (default 1)"
    )
    parser.add_argument(
        "--host-memory",
        choices=("settle", "leave"),
        default="settle",
        help="on a VM that hands freed memory back to its host: wait for that before every run "
        "(settle, default) or not (leave)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample as JSON here")
    parser.add_argument("--fetch", nargs=2, metavar=("JOB", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fetch:
        fetch_plain(json.loads(args.fetch[0]), Path(args.fetch[1]))
        return 0
    from memharness_s3.execution.host_memory import reporting_active
    from memharness_s3.execution.local.measure import DEFAULT_SAMPLE_INTERVAL_S
    from memharness_s3.experiments.busy import busy_loops

    interval = args.sample_interval or DEFAULT_SAMPLE_INTERVAL_S
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    with (
        tempfile.TemporaryDirectory(prefix="memharness-fidelity-") as work,
        busy_loops(args.busy) as busy,
    ):
        if busy:
            print(f"busy loops beside the experiment: PIDs {busy}", file=sys.stderr)
        samples, speeds = run_experiment(
            args.backend,
            args.size,
            strategies,
            args.repeat,
            interval,
            Path(work),
            args.modes,
            args.seed,
            settle_host_memory=args.host_memory == "settle",
        )
    if args.json:
        args.json.write_text(
            json.dumps({"wire_mb_s": speeds, "samples": [asdict(s) for s in samples]}, indent=1)
        )
    host_memory = HOST_MEMORY_ABSENT
    if reporting_active():
        host_memory = HOST_MEMORY_SETTLED if args.host_memory == "settle" else HOST_MEMORY_LEFT
    print(render(samples, speeds, args.size, interval, args.busy, args.seed, host_memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
