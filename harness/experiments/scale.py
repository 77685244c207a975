"""How the views scale: synthetic results directories built from a real run, each view timed.

``python -m memharness_s3.experiments.scale [--source DIR]`` (``nox -s scale``) takes a small real
results
directory (made with a short ``memharness run`` on moto when none is given), replicates its lines
as new cases (new object sizes and parameter variants of the real ones) and new repeats until a
directory has the lines and cases asked for (default 1,000 lines / 50 cases, 10,000 / 500 and
100,000 / 4,600), and times ``memharness report``, ``gate``, each ``export`` and ``compare`` of
ten directories of the largest size, each as its own process: wall time and peak RSS (the
kernel's ``ru_maxrss`` of that process alone, from ``wait4``). It prints one table, the growth
from the second largest to the largest size, and which of the targets of issue 19 hold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memharness_s3.model.case_fields import decimal_size

SCALES = ((1_000, 50), (10_000, 500), (100_000, 4_600))
"""(lines, cases) of each synthetic directory."""
COMPARED = 10
"""How many directories of the largest size ``compare`` reads."""
EXPORTS = ("pytest-benchmark", "github-action-benchmark", "bencher")
SIZE_STEPS = 4
"""Object sizes each real case is spread over (1x, 1.1x, 1.2x, 1.3x its size: no two real
sizes meet) before parameter variants."""
TARGETS: dict[tuple[str, int], tuple[float, float]] = {
    ("report", 1_000): (3.0, float("inf")),
    ("report", 100_000): (60.0, 500.0),
    ("gate", 100_000): (20.0, 300.0),
    **{(f"export {name}", 100_000): (20.0, 300.0) for name in EXPORTS},
    ("compare x10", 100_000): (60.0, 500.0),
}
"""Seconds and peak MB each view must stay under (issue 19)."""
MAX_GROWTH = 12.0
MAX_HTML_BYTES = 10 * 10**6


@dataclass(frozen=True)
class Timing:
    view: str
    lines: int
    cases: int
    seconds: float
    cpu_seconds: float
    """User + system CPU of the process: what the view costs on a busy machine, where the
    wall time also counts the waits for a core."""
    peak_mb: float
    exit_code: int
    output_bytes: int | None = None


def real_run(where: Path) -> Path:
    """A small real run on moto: three strategies, two sizes, one and two workers (12 cases)."""
    out = where / "real"
    command = [
        sys.executable,
        "-m",
        "memharness_s3.cli",
        "run",
        "--strategies",
        "read-all,chunked,range",
        "--sizes",
        "2MB,8MB",
        "--concurrency",
        "1,2",
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out


def _source_lines(source: Path) -> list[dict[str, Any]]:
    lines = []
    with (source / "results.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                lines.append(json.loads(line))
    return lines


def _cases_of(lines: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The real run's lines grouped by case, one repeat's workers each (the first repeat)."""
    cases: dict[str, list[dict[str, Any]]] = {}
    first_group: dict[str, str] = {}
    for line in lines:
        group = first_group.setdefault(line["case_id"], line["group_id"])
        if line["group_id"] == group:
            cases.setdefault(line["case_id"], []).append(line)
    return list(cases.values())


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def synthetic_lines(
    source_lines: Sequence[dict[str, Any]], lines: int, cases: int, seed: int
) -> Iterator[dict[str, Any]]:
    """``lines`` result lines over ``cases`` cases made from the real ones: case ``c`` is real
    case ``c % n`` at a size step and a parameter variant of ``c // n``; each case gets as many
    repeats as its share of the lines needs; peaks, times and throughputs jittered by 3 %."""
    templates = _cases_of(source_lines)
    jitter = random.Random(seed)
    per_case = lines / cases
    written = 0
    for index in range(cases):
        template = templates[index % len(templates)]
        generation = index // len(templates)
        step, variant = generation % SIZE_STEPS, generation // SIZE_STEPS
        quota = round(per_case * (index + 1)) - round(per_case * index)
        repeat = 0
        while quota > 0 and written < lines:
            group = _digest(seed, index, repeat)
            for worker_line in template[:quota]:
                yield _made(worker_line, step, variant, index, repeat, group, jitter)
                written += 1
                quota -= 1
            repeat += 1


def _made(
    line: dict[str, Any],
    step: int,
    variant: int,
    index: int,
    repeat: int,
    group: str,
    jitter: random.Random,
) -> dict[str, Any]:
    made = dict(line)
    size = line["size_bytes"] * (10 + step) // 10
    made["size_bytes"] = size
    made["object_name"] = decimal_size(size)
    made["object_key"] = line["object_key"].replace(f"{line['size_bytes']}B", f"{size}B")
    if variant:
        made["params"] = {**line["params"], "variant": variant}
    made["case_id"] = _digest("case", index)
    made["group_id"] = group
    made["run_id"] = _digest(group, line["worker"])
    made["repeat"] = repeat
    for name in ("peak_rss_bytes", "sampled_peak_rss_bytes", "aggregate_peak_rss_bytes"):
        if made.get(name):
            made[name] = max(1, round(made[name] * jitter.uniform(0.97, 1.03)))
    for name in ("wall_s", "total_wall_s", "throughput_mb_s"):
        if made.get(name):
            made[name] = round(made[name] * jitter.uniform(0.97, 1.03), 4)
    return made


def build(source: Path, target: Path, lines: int, cases: int, seed: int) -> Path:
    """A synthetic results directory at ``target``: the source's meta.json and timelines (every
    made line points at its real line's timeline), ``lines`` lines over ``cases`` cases."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "meta.json", target / "meta.json")
    if (source / "timelines").is_dir():
        shutil.copytree(source / "timelines", target / "timelines", dirs_exist_ok=True)
    with (target / "results.jsonl").open("w", encoding="utf-8") as handle:
        for made in synthetic_lines(_source_lines(source), lines, cases, seed):
            handle.write(json.dumps(made, sort_keys=True, separators=(",", ":")) + "\n")
    return target


def timed(command: Sequence[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MB (the process's own ``ru_maxrss``) and exit
    code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode and process.stderr is not None:
        sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])
    if process.stderr is not None:
        process.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss * 1024 / 1e6, process.returncode


def _memharness(*args: str) -> list[str]:
    return [sys.executable, "-m", "memharness_s3.cli", *args]


def views(directory: Path, out: Path) -> dict[str, tuple[list[str], Path | None]]:
    """Each view's command on ``directory`` and the file it writes."""
    commands: dict[str, tuple[list[str], Path | None]] = {
        "report": (_memharness("report", str(directory)), directory / "index.html"),
        "gate": (_memharness("gate", str(directory), "--budget", "512MiB"), None),
    }
    for name in EXPORTS:
        file = out / f"{directory.name}.{name}.json"
        commands[f"export {name}"] = (
            _memharness("export", str(directory), "--format", name, "-o", str(file)),
            file,
        )
    return commands


def measure(
    view: str,
    command: list[str],
    output: Path | None,
    lines: int,
    cases: int,
    repeats: int,
) -> Timing:
    runs = [timed(command) for _ in range(repeats)]
    size = output.stat().st_size if output is not None and output.exists() else None
    return Timing(
        view,
        lines,
        cases,
        statistics.median(s for s, _, _, _ in runs),
        statistics.median(c for _, c, _, _ in runs),
        statistics.median(m for _, _, m, _ in runs),
        max(code for _, _, _, code in runs),
        size,
    )


def render(timings: Sequence[Timing]) -> str:
    rows = [("view", "lines", "cases", "seconds", "cpu s", "peak MB", "exit", "output", "target")]
    for t in timings:
        target = TARGETS.get((t.view, t.lines))
        verdict = ""
        if target is not None:
            seconds, megabytes = target
            held = t.seconds < seconds and t.peak_mb < megabytes and t.exit_code in (0, 1)
            verdict = ("ok" if held else "MISSED") + f" (<{seconds:g} s"
            verdict += f", <{megabytes:g} MB)" if megabytes != float("inf") else ")"
        shown = f"{t.output_bytes / 1e6:.2f} MB" if t.output_bytes is not None else ""
        rows.append(
            (
                t.view,
                f"{t.lines:,}",
                f"{t.cases:,}",
                f"{t.seconds:.1f}",
                f"{t.cpu_seconds:.1f}",
                f"{t.peak_mb:.0f}",
                str(t.exit_code),
                shown,
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(text)


def growth(timings: Sequence[Timing]) -> list[str]:
    """Time and memory growth of each view from the second largest size to the largest."""
    sizes = sorted({t.lines for t in timings})
    if len(sizes) < 2:
        return []
    small, large = sizes[-2], sizes[-1]
    by = {(t.view, t.lines): t for t in timings}
    notes = []
    for view in dict.fromkeys(t.view for t in timings):
        a, b = by.get((view, small)), by.get((view, large))
        if a is None or b is None:
            continue
        time_x, memory_x = b.seconds / a.seconds, b.peak_mb / a.peak_mb
        cpu_x = b.cpu_seconds / a.cpu_seconds if a.cpu_seconds else float("inf")
        held = time_x <= MAX_GROWTH and memory_x <= MAX_GROWTH
        notes.append(
            f"{view}: {small:,} -> {large:,} lines: time x{time_x:.1f} (cpu x{cpu_x:.1f}), "
            f"memory x{memory_x:.1f} "
            f"({'ok' if held else 'MISSED'}, at most x{MAX_GROWTH:g})"
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memharness_s3.experiments.scale", description=__doc__
    )
    parser.add_argument("--source", type=Path, help="a small real results directory")
    parser.add_argument(
        "--scales",
        default=",".join(f"{lines}:{cases}" for lines, cases in SCALES),
        help="LINES:CASES,... (default: %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each view (median)")
    parser.add_argument("--views", default="", help="only these views (comma-separated)")
    parser.add_argument("--no-compare", action="store_true", help="skip compare x10")
    parser.add_argument("--keep", type=Path, help="build the directories here and keep them")
    args = parser.parse_args(argv)
    scales = [tuple(int(n) for n in item.split(":")) for item in args.scales.split(",")]
    only = set(filter(None, args.views.split(",")))
    work = args.keep or Path(tempfile.mkdtemp(prefix="memharness-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = args.source or real_run(work)
        timings = []
        for lines, cases in scales:
            directory = build(source, work / f"lines-{lines}", lines, cases, seed=0)
            for view, (command, output) in views(directory, work).items():
                if not only or view in only:
                    timings.append(measure(view, command, output, lines, cases, args.repeat))
                    print(render(timings[-1:]).splitlines()[-1], flush=True)
        if not args.no_compare and (not only or "compare x10" in only):
            lines, cases = scales[-1]
            dirs = [
                build(source, work / f"compare-{i}", lines, cases, seed=i) for i in range(COMPARED)
            ]
            command = _memharness("compare", *map(str, dirs))
            timings.append(measure("compare x10", command, None, lines, cases, args.repeat))
        print()
        print(render(timings))
        for note in growth(timings):
            print(note)
        html = [t for t in timings if t.view == "report" and t.output_bytes is not None]
        if html:
            largest = max(html, key=lambda t: t.lines)
            held = largest.output_bytes is not None and largest.output_bytes < MAX_HTML_BYTES
            print(
                f"HTML at {largest.lines:,} lines: {(largest.output_bytes or 0) / 1e6:.1f} MB "
                f"({'ok' if held else 'MISSED'}, under {MAX_HTML_BYTES / 1e6:g} MB)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
