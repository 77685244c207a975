"""Run one process and measure its memory from outside.

The parent polls the child about every 10 ms: psutil's RSS for the timeline, and the kernel's
``VmHWM`` (exact high-water mark, kept by the kernel on every page fault) while the child is
alive. The child is reaped with ``wait4`` to get its ``ru_maxrss`` too. That number is recorded
but is not the headline: Linux carries the parent's high-water mark into ``ru_maxrss`` across
fork and exec, so it can never be lower than the harness's own peak at spawn time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.procfs import peak_rss

SAMPLE_INTERVAL_S = 0.01


@dataclass
class Measurement:
    """What the parent saw of one child process."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    wall_s: float = 0.0
    ru_maxrss_bytes: int | None = None
    polled_hwm_bytes: int | None = None
    timeline: list[tuple[float, int]] = field(default_factory=list)

    @property
    def sampled_peak_bytes(self) -> int | None:
        return max((rss for _, rss in self.timeline), default=None)


def run_and_measure(
    argv: list[str],
    env: Mapping[str, str],
    log_path: Path,
    timeout_s: float,
    interval_s: float = SAMPLE_INTERVAL_S,
) -> Measurement:
    """Start ``argv``, sample it until it exits or ``timeout_s`` passes, and reap it."""
    measurement = Measurement()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = time.monotonic()
    watched = psutil.Process(proc.pid)
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                measurement.timed_out = True
                _kill_group(proc.pid)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            _sample(watched, proc.pid, elapsed, measurement)
            time.sleep(interval_s)
    except BaseException:
        _kill_group(proc.pid)
        os.wait4(proc.pid, 0)
        proc.returncode = -signal.SIGKILL
        raise
    measurement.wall_s = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if os.WIFSIGNALED(status):
        measurement.signal = os.WTERMSIG(status)
    else:
        measurement.exit_code = os.WEXITSTATUS(status)
    measurement.ru_maxrss_bytes = usage.ru_maxrss * 1024
    return measurement


def _sample(watched: psutil.Process, pid: int, elapsed: float, measurement: Measurement) -> None:
    try:
        rss = watched.memory_info().rss
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return
    hwm = peak_rss(pid)
    if rss:
        measurement.timeline.append((round(elapsed, 4), rss))
    if hwm is not None:
        measurement.polled_hwm_bytes = max(hwm, measurement.polled_hwm_bytes or 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
