"""Run worker processes and measure their memory from outside.

The parent polls every worker every ``interval_s`` (``DEFAULT_SAMPLE_INTERVAL_S``): its RSS for
the timeline (and their sum, for the aggregate peak of a concurrent case), read with one
``pread`` of ``/proc/PID/statm`` on a descriptor kept open (no open/close, no psutil per tick).
Every tenth tick it also reads the kernel's ``VmHWM`` (its high-water mark: reading it late
loses nothing while the worker lives, and the worker reads its own as its last act), the bytes
in each worker's temp dir and the machine's available memory. The peak does not depend on the
interval; the timeline's resolution, the aggregate of concurrent workers and the watchdog cap
(where no cgroup can be had) do. Workers are reaped with ``wait4`` to get their ``ru_maxrss``
too. That number is recorded but is not the
headline: Linux carries the parent's high-water mark into ``ru_maxrss`` across fork and exec, so
it can never be lower than the harness's own peak at spawn time.

Each worker starts in a process group of its own (so a Ctrl-C at the terminal reaches only the
harness, which then stops the workers), asks the kernel to kill it if the harness dies
(PR_SET_PDEATHSIG), and joins its memory cgroup, when it has one, before it execs. It stays in
the harness's session, as a worker forked by an application (a Celery child) stays in its
parent's: where the kernel groups CPU time by session (``sched_autogroup``, on by default in
most desktop and many server kernels), a session of its own would make every worker a new
group competing on its own terms with the rest of the machine, which is not how a real worker
is scheduled.
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

from memharness_s3.execution import interrupts
from memharness_s3.execution.caps import WorkerCgroup
from memharness_s3.execution.node_memory import NodeMeter
from memharness_s3.execution.processes import die_with_parent, spawn_logged
from memharness_s3.execution.procfs import meminfo_bytes, peak_rss
from memharness_s3.model.ticks import Tick

DEFAULT_SAMPLE_INTERVAL_S = 0.01
SLOW_EVERY_TICKS = 10
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ProcessProbe:
    """Reads a live process's RSS cheaply, tick after tick (``/proc/PID/statm``, kept open)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._fd: int | None = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        except OSError:
            self._fd = None

    def rss(self) -> int:
        """Resident bytes now; 0 once the process has gone (or become a zombie)."""
        if self._fd is None:
            return 0
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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

    pid: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    watchdog_killed: bool = False
    aborted: bool = False
    """Killed by the harness because the backend stopped answering (``abort``)."""
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


def run_group(
    spawns: Sequence[WorkerSpawn],
    timeout_s: float,
    watchdog_limit_bytes: int | None = None,
    on_tick: Callable[[Tick], None] | None = None,
    interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
    abort: Callable[[], bool] | None = None,
    node: NodeMeter | None = None,
    watchdog_node_bytes: int | None = None,
) -> GroupMeasurement:
    """Start every worker, sample them until all exit (or the timeout), and reap them.

    ``node``: the workers as one node, whose charged memory is read before they start (its idle
    floor) and sampled with them (every tick from a cgroup, every tenth as a sum of PSS).

    With ``watchdog_limit_bytes``, a worker whose sampled RSS passes the limit is killed and
    marked ``watchdog_killed``; with ``watchdog_node_bytes``, once what ``node`` charges
    passes it, the largest of them is (as the kernel's OOM killer picks in a shared cgroup).
    Once ``abort()`` is true (checked every tick: it must be cheap, e.g. an Event's
    ``is_set``; the backend health watch runs elsewhere), the workers still running are killed
    and marked ``aborted``.
    """
    measurements = [Measurement() for _ in spawns]
    procs: list[subprocess.Popen[bytes]] = []
    probes: dict[int, ProcessProbe] = {}
    started = time.monotonic()
    if node is not None:
        node.start([])
    try:
        for spawn in spawns:
            procs.append(_start(spawn))
        for proc, measurement in zip(procs, measurements, strict=True):
            measurement.pid = proc.pid
        probes.update({proc.pid: ProcessProbe(proc.pid) for proc in procs})
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
                    probes[pid].close()
                    alive.discard(index)
            if not alive:
                break
            if elapsed > timeout_s:
                for index in alive:
                    measurements[index].timed_out = True
                    _kill_group(procs[index].pid)
                time.sleep(interval_s)
                continue
            if abort is not None and abort():
                for index in alive:
                    measurements[index].aborted = True
                    _kill_group(procs[index].pid)
                time.sleep(interval_s)
                continue
            total = 0
            slow = tick % SLOW_EVERY_TICKS == 0
            if slow:
                temp_total = 0
            sizes: dict[int, int] = {}
            for index in alive:
                proc, measurement = procs[index], measurements[index]
                rss = sizes[index] = _sample(probes[proc.pid], elapsed, measurement, slow)
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
            charged = None
            if node is not None:
                pids = [procs[index].pid for index in alive]
                charged = node.sample(total, pids, slow, watchdog_node_bytes)
            if watchdog_node_bytes is not None and (charged or 0) > watchdog_node_bytes:
                largest = max(sizes, key=lambda index: sizes[index])
                measurements[largest].watchdog_killed = True
                _kill_group(procs[largest].pid)
            if slow:
                available = meminfo_bytes("MemAvailable")["MemAvailable"]
                min_available = min(min_available or available, available)
                if on_tick is not None:
                    on_tick(Tick(elapsed, len(alive), total, temp_total))
            tick += 1
            interrupts.check()
            time.sleep(interval_s)
    except BaseException:
        for probe in probes.values():
            probe.close()
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
    # Ctrl-C and SIGTERM wait until the fork is done: a handler that ran during it would raise
    # inside an at-fork callback, where Python drops the exception (``interrupts``). The worker
    # gets the signal mask the harness had.
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)

    def in_child() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        die_with_parent()
        if cgroup is not None:
            cgroup.join()

    try:
        return spawn_logged(
            spawn.argv, spawn.log_path, spawn.env, in_child=in_child, new_session=False
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)


INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


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


def _sample(probe: ProcessProbe, elapsed: float, measurement: Measurement, slow: bool) -> int:
    rss = probe.rss()
    if rss:
        measurement.timeline.append((round(elapsed, 4), rss))
        measurement.last_rss_bytes = rss
    if slow or not measurement.polled_hwm_bytes:
        hwm = peak_rss(probe.pid)
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
