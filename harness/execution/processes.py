"""The harness's child processes: started one way, stopped one way, never outliving it.

Every server, broker, node and worker the harness launches goes through :func:`spawn_logged`:
its own session (a measured worker: its own process group; either way its whole group can be
signalled), stdin closed, stdout and stderr into a
log file, and :func:`die_with_parent` between fork and exec: the kernel sends the child SIGKILL
when the harness dies, however it dies (kill -9 included), so nothing is left orphaned.
:func:`stop_process_group` stops one by its PID and waits until its whole group is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 5.0
STOP_POLL_S = 0.02


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn_logged(
    argv: list[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    append: bool = False,
    in_child: Callable[[], None] = die_with_parent,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own with its output in ``log_path``.

    ``in_child`` runs between fork and exec and must call :func:`die_with_parent` (the default
    is that alone); ``append`` keeps what an earlier start wrote to the log. ``new_session``
    False: a process group of its own in the harness's session instead (a measured worker:
    see ``measure``), which can be signalled as a group all the same.
    """
    with open(log_path, "ab" if append else "wb") as log:
        return subprocess.Popen(
            argv,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
            process_group=None if new_session else 0,
            preexec_fn=in_child,
        )


def stop_process_group(leader: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group ``leader`` leads, SIGKILL it after ``grace_s``; return once no
    process of the group is left running (see :meth:`LaunchedServer.stop`)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(leader.pid, sig)
            # A stopped process (SIGSTOP, a wedged server) keeps SIGTERM pending until it runs.
            os.killpg(leader.pid, signal.SIGCONT)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_s
        while (running := _group_running(leader)) and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)
        if not running:
            break
    leader.poll()


def _group_running(leader: subprocess.Popen[bytes]) -> bool:
    """Whether a process of ``leader``'s group (its pid is the group's id) has yet to exit.

    The leader is our child, so it is reaped here. A zombie has exited, but ``killpg(pgid, 0)``
    still finds it; the server's orphaned children are reaped by init, which may do it late (or
    never, when the harness is a container's PID 1), so the group is then looked up in /proc.
    """
    leader.poll()
    try:
        os.killpg(leader.pid, 0)
    except ProcessLookupError:
        return False
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"{entry.path}/stat", "rb") as stat_file:
                    stat = stat_file.read()
            except OSError:
                continue
            # After "pid (comm) ": state, ppid, pgrp, ... (comm may hold spaces and parentheses).
            state, _ppid, pgrp = stat[stat.rindex(b")") + 2 :].split()[:3]
            if int(pgrp) == leader.pid and state not in (b"Z", b"X"):
                return True
    return False
