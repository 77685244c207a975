"""Resident memory read from the kernel's own counters (Linux ``/proc``).

Imported by the measured worker: standard library only, and cheap to call.
"""

from __future__ import annotations

import os
import resource

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss(pid: int | str = "self") -> int:
    """Resident set size of ``pid`` now, in bytes."""
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


def peak_rss(pid: int | str = "self") -> int | None:
    """The kernel's high-water mark of ``pid``'s resident set (``VmHWM``) in bytes.

    ``None`` when the process has already released its memory (a zombie has no VmHWM).
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def own_peak_rss() -> int:
    """This process's peak RSS: VmHWM, or ``ru_maxrss`` where /proc is not available."""
    peak = peak_rss("self")
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak


def meminfo_bytes(*names: str) -> dict[str, int]:
    """Fields of ``/proc/meminfo`` (``Dirty``, ``Writeback``, ``MemAvailable``...) in bytes."""
    wanted = {name.encode(): name for name in names}
    found: dict[str, int] = {}
    with open("/proc/meminfo", "rb") as meminfo:
        for line in meminfo:
            key, _, rest = line.partition(b":")
            if key in wanted:
                found[wanted[key]] = int(rest.split()[0]) * 1024
    return found


SETTLED_DIRTY_BYTES = 16 * 2**20
"""Dirty plus writeback pages below which the page cache counts as settled, with no ``sync``:
a disk writes that much back in a fraction of a second, far less than a measured run, while a
``sync`` on a machine others write to can wait for their writes too."""


def settle_dirty_pages() -> dict[str, int]:
    """Flush dirty pages (``sync``) when more than :data:`SETTLED_DIRTY_BYTES` are dirty or
    under writeback; return ``Dirty`` and ``Writeback`` as they then are."""
    state = meminfo_bytes("Dirty", "Writeback")
    if state.get("Dirty", 0) + state.get("Writeback", 0) <= SETTLED_DIRTY_BYTES:
        return state
    os.sync()
    return meminfo_bytes("Dirty", "Writeback")


def work_done(pid: int) -> int | None:
    """A number that grows while process ``pid`` works: its CPU ticks (all threads, user and
    system) plus the bytes it read and wrote (``/proc/PID/io``, its own threads). None when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            stat = stat_file.read()
        with open(f"/proc/{pid}/io", "rb") as io_file:
            io = dict(line.split(b": ") for line in io_file.read().splitlines())
    except (OSError, ValueError):
        return None
    # After "pid (comm) ": fields 3.. of proc(5); utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12]) + int(io[b"rchar"]) + int(io[b"wchar"])
