"""Hard per-worker memory caps: a kernel cgroup limit where the machine allows it, else a watchdog.

Preference order: cgroup v2 (a delegated subtree, as systemd gives users, where this process's
own cgroup already enables the memory controller for its children), then cgroup v1 (the memory
controller's hierarchy, writable by root, as in many CI containers), then a watchdog in the
parent that kills the worker as soon as a sample shows its RSS above the limit. A cgroup limit
counts page cache too, as a container's does; the watchdog sees RSS only and, sampling every
10 ms, can see a fast allocation only after it happened. Every result records which was used.

The worker joins its cgroup between fork and exec (``preexec_fn``), so not one page it touches
is outside the limit.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
WATCHDOG = "watchdog"


@dataclass(frozen=True)
class CgroupFlavour:
    """The file names one cgroup version uses for the same things."""

    name: str
    limit: str
    peak: str
    events: str
    swap_limit: str
    resident: str
    """The ``memory.stat`` key of the cgroup's resident memory without page cache."""

    @property
    def resident_source(self) -> str:
        """How results name a figure read from it: ``cgroup-total_rss``, ``cgroup-anon``."""
        return f"cgroup-{self.resident}"


V1 = CgroupFlavour(
    "cgroup-v1",
    "memory.limit_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.oom_control",
    "memory.memsw.limit_in_bytes",
    "total_rss",
)
V2 = CgroupFlavour(
    "cgroup-v2", "memory.max", "memory.peak", "memory.events", "memory.swap.max", "anon"
)


def _own_cgroup(controller_line: str) -> str | None:
    """This process's cgroup path for the v1 ``memory`` controller or v2 (``""``)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers.split(",") == [controller_line] or (
            controller_line == "" and controllers == ""
        ):
            return path
    return None


def find_cgroup_parent() -> tuple[CgroupFlavour, Path] | None:
    """Where worker cgroups can be made on this machine, or None."""
    if os.environ.get("MEMHARNESS_CAP") == WATCHDOG:
        return None
    v2_path = _own_cgroup("")
    if (CGROUP_ROOT / "cgroup.controllers").exists() and v2_path is not None:
        parent = CGROUP_ROOT / v2_path.lstrip("/")
        subtree = parent / "cgroup.subtree_control"
        with contextlib.suppress(OSError):
            if "memory" in subtree.read_text().split() and os.access(parent, os.W_OK):
                return V2, parent
    v1_path = _own_cgroup("memory")
    if v1_path is not None:
        parent = CGROUP_ROOT / "memory" / v1_path.lstrip("/")
        if (parent / V1.limit).exists() and os.access(parent, os.W_OK):
            return V1, parent
    return None


def enforcement_available() -> str:
    """The cap enforcement this machine gives: ``cgroup-v2``, ``cgroup-v1`` or ``watchdog``."""
    found = find_cgroup_parent()
    return found[0].name if found else WATCHDOG


def resident_bytes(path: Path, flavour: CgroupFlavour) -> int | None:
    """The ``flavour.resident`` figure of the cgroup at ``path``; None when it cannot be read."""
    key = flavour.resident.encode() + b" "
    try:
        with open(path / "memory.stat", "rb") as stat:
            for line in stat:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class WorkerCgroup:
    """A cgroup with a hard memory limit (one worker's, or every worker of a node's); removed
    by :meth:`remove`."""

    def __init__(self, flavour: CgroupFlavour, parent: Path, limit_bytes: int) -> None:
        self.flavour = flavour
        self.path = parent / f"memharness-{uuid.uuid4().hex[:12]}"
        self.path.mkdir()
        try:
            (self.path / flavour.limit).write_text(str(limit_bytes))
            swap = self.path / flavour.swap_limit
            if swap.exists():
                swap.write_text(str(limit_bytes) if flavour is V1 else "0")
        except OSError:
            self.remove()
            raise

    def join(self) -> None:
        """Move the calling process into this cgroup (called in the child before exec)."""
        with open(self.path / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))

    def peak_bytes(self) -> int | None:
        """The cgroup's own high-water mark of charged memory (RSS and page cache)."""
        try:
            return int((self.path / self.flavour.peak).read_text())
        except (OSError, ValueError):
            return None

    def resident_bytes(self) -> int | None:
        """What the cgroup charges now for its processes' own memory, page cache left out
        (``total_rss`` of v1's memory.stat, ``anon`` of v2's): what a cap is really spent on."""
        return resident_bytes(self.path, self.flavour)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this cgroup for hitting the limit."""
        try:
            for line in (self.path / self.flavour.events).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            return 0
        return 0

    def remove(self) -> None:
        """Remove the (empty) cgroup; the kernel may need a moment after the last exit."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)
