"""Child processes that do not outlive the harness.

Called between fork and exec (``preexec_fn``): the kernel sends the child SIGKILL when the
harness dies, however it dies (kill -9 included), so no worker or server is left orphaned.
"""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
