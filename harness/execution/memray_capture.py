"""Turn a worker's memray capture into a heap peak and a flamegraph beside the results.

Runs in the parent after the worker has exited, so neither reading the capture nor rendering
the flamegraph touches the measured process. memray's heap peak is the peak of memory the
tracked allocators handed out (with native traces, MuPDF's C allocations included): a different
number from RSS, which also counts the interpreter, shared libraries and allocator slack.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def heap_peak_bytes(capture: Path) -> int | None:
    """The capture's peak of tracked heap memory, or None if it cannot be read."""
    from memray import FileReader

    try:
        return int(FileReader(str(capture)).metadata.peak_memory)
    except (OSError, ValueError, RuntimeError):
        return None


def write_flamegraph(capture: Path) -> Path | None:
    """Render ``capture`` to ``<capture>.html`` with memray's flamegraph reporter."""
    html = capture.with_suffix(".html")
    done = subprocess.run(
        [sys.executable, "-m", "memray", "flamegraph", "--force", "-o", str(html), str(capture)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=600,
        check=False,
    )
    return html if done.returncode == 0 and html.exists() else None
