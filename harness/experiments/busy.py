"""Busy loops beside an experiment: ``count`` processes that each keep one core busy.

Each loop is a bare interpreter spinning (``while True: pass``), asked to die with the harness,
and stopped by its PID when the block ends, however it ends. It stays in the experiment's session,
as ``sh -c 'while :; do :; done' &`` from the same shell would: where the kernel shares CPU time
between sessions (``sched_autogroup``), that is where a worker's own scheduling group showed its
cost (see README, Measurement fidelity); a loop in a session of its own did not show it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from memharness_s3.execution.processes import die_with_parent

SPIN = "while True: pass"


@contextmanager
def busy_loops(count: int) -> Iterator[list[int]]:
    """Start ``count`` spinning processes; yield their PIDs; kill and reap them on the way out."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", SPIN],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=die_with_parent,
                )
            )
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
