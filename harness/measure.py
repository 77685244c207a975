"""Run worker processes and measure their memory from outside.

The parent polls every worker about every 10 ms: psutil's RSS for the timeline (and their sum,
for the aggregate peak of a concurrent case), and the kernel's ``VmHWM`` (exact high-water mark,
kept by the kernel on every page fault) while the worker is alive. Every tenth tick it also
records the bytes in each worker's temp dir and the machine's available memory. Workers are
reaped with ``wait4`` to get their ``ru_maxrss`` too. That number is recorded but is not the
headline: Linux carries the parent's high-water mark into ``ru_maxrss`` across fork and exec, so
it can never be lower than the harness's own peak at spawn time.

Each worker starts in its own session (so a Ctrl-C at the terminal reaches only the harness,
which then stops the workers), asks the kernel to kill it if the harness dies (PR_SET_PDEATHSIG),
and joins its memory cgroup, when it has one, before it execs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from memharness_s3.caps import WorkerCgroup
from memharness_s3.lifetime import die_with_parent
from memharness_s3.procfs import peak_rss

SAMPLE_INTERVAL_S = 0.01
SLOW_EVERY_TICKS = 10


@dataclass
class WorkerSpawn:
    """How to start one worker and what to watch besides it."""

    argv: list[str]
    env: Mapping[str, str]
    log_path: Path
    tmp_dir: Path
    cgroup: WorkerCgroup | None = None


@dataclass
class Measurement:
    """What the parent saw of one worker process."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    watchdog_killed: bool = False
    wall_s: float = 0.0
    ru_maxrss_bytes: int | None = None
    polled_hwm_bytes: int | None = None
    last_rss_bytes: int | None = None
    temp_peak_bytes: int = 0
    timeline: list[tuple[float, int]] = field(default_factory=list)

    @property
    def sampled_peak_bytes(self) -> int | None:
        return max((rss for _, rss in self.timeline), default=None)


@dataclass
class GroupMeasurement:
    """What the parent saw of workers that ran at the same time."""

    workers: list[Measurement]
    aggregate_peak_bytes: int | None
    min_available_bytes: int | None


@dataclass
class Tick:
    """Progress of a running group, for a progress display."""

    elapsed_s: float
    alive: int
    rss_bytes: int
    temp_bytes: int


def run_group(
    spawns: Sequence[WorkerSpawn],
    timeout_s: float,
    watchdog_limit_bytes: int | None = None,
    on_tick: Callable[[Tick], None] | None = None,
    interval_s: float = SAMPLE_INTERVAL_S,
) -> GroupMeasurement:
    """Start every worker, sample them until all exit (or the timeout), and reap them.

    With ``watchdog_limit_bytes``, a worker whose sampled RSS passes the limit is killed and
    marked ``watchdog_killed``.
    """
    measurements = [Measurement() for _ in spawns]
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        for spawn in spawns:
            procs.append(_start(spawn))
        watched = {proc.pid: psutil.Process(proc.pid) for proc in procs}
        alive = set(range(len(procs)))
        aggregate: int | None = None
        min_available: int | None = None
        tick = 0
        temp_total = 0
        while alive:
            elapsed = time.monotonic() - started
            for index in sorted(alive):
                pid, status, usage = os.wait4(procs[index].pid, os.WNOHANG)
                if pid:
                    _reaped(procs[index], measurements[index], status, usage, elapsed)
                    alive.discard(index)
            if not alive:
                break
            if elapsed > timeout_s:
                for index in alive:
                    measurements[index].timed_out = True
                    _kill_group(procs[index].pid)
                time.sleep(interval_s)
                continue
            total = 0
            slow = tick % SLOW_EVERY_TICKS == 0
            if slow:
                temp_total = 0
            for index in alive:
                proc, measurement = procs[index], measurements[index]
                rss = _sample(watched[proc.pid], proc.pid, elapsed, measurement)
                total += rss
                if watchdog_limit_bytes is not None and rss > watchdog_limit_bytes:
                    measurement.watchdog_killed = True
                    _kill_group(proc.pid)
                if slow:
                    used = _dir_bytes(spawns[index].tmp_dir)
                    measurement.temp_peak_bytes = max(measurement.temp_peak_bytes, used)
                    temp_total += used
            if total:
                aggregate = max(aggregate or 0, total)
            if slow:
                available = psutil.virtual_memory().available
                min_available = min(min_available or available, available)
                if on_tick is not None:
                    on_tick(Tick(elapsed, len(alive), total, temp_total))
            tick += 1
            time.sleep(interval_s)
    except BaseException:
        for proc in procs:
            if proc.returncode is None:
                _kill_group(proc.pid)
                with contextlib.suppress(ChildProcessError):
                    os.wait4(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
        raise
    return GroupMeasurement(measurements, aggregate, min_available)


def _start(spawn: WorkerSpawn) -> subprocess.Popen[bytes]:
    cgroup = spawn.cgroup

    def in_child() -> None:
        die_with_parent()
        if cgroup is not None:
            cgroup.join()

    with open(spawn.log_path, "wb") as log:
        return subprocess.Popen(
            spawn.argv,
            env=dict(spawn.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=in_child,
        )


def _reaped(
    proc: subprocess.Popen[bytes],
    measurement: Measurement,
    status: int,
    usage: os.struct_rusage,  # type: ignore[name-defined]
    elapsed: float,
) -> None:
    proc.returncode = os.waitstatus_to_exitcode(status)
    measurement.wall_s = elapsed
    if os.WIFSIGNALED(status):
        measurement.signal = os.WTERMSIG(status)
    else:
        measurement.exit_code = os.WEXITSTATUS(status)
    measurement.ru_maxrss_bytes = usage.ru_maxrss * 1024


def _sample(watched: psutil.Process, pid: int, elapsed: float, measurement: Measurement) -> int:
    try:
        rss = int(watched.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return 0
    hwm = peak_rss(pid)
    if rss:
        measurement.timeline.append((round(elapsed, 4), rss))
        measurement.last_rss_bytes = rss
    if hwm is not None:
        measurement.polled_hwm_bytes = max(hwm, measurement.polled_hwm_bytes or 0)
    return rss


def _dir_bytes(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    total += _dir_bytes(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
