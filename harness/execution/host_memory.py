"""Memory a virtual machine hands back to its host, and waiting for it between measured runs.

Where the guest's virtio-balloon device offers free page reporting (``VIRTIO_BALLOON_F_REPORTING``,
as Firecracker, Cloud Hypervisor and QEMU offer it), the kernel tells the host which memory the
guest has freed, about two seconds after it was freed (``PAGE_REPORTING_DELAY`` in
``mm/page_reporting.c``), and the host takes it back. A process that then writes to those pages
(a fetch filling the page cache) waits while the host supplies them again, and that time is
charged to the process as its own CPU time.

Measured on a 2-core Firecracker guest beside one busy loop, readinto fetching 750 MB from s3rver
20 times back to back: every run during which a reporting pass handed back the run before's
memory ran at 250-330 MB/s (1.5-1.9 s of client CPU), every other run at 550-670 MB/s (0.6 s),
and the two alternated: a pass follows each run by two seconds, so it lands in every second run.
Runs that waited for the pass first all ran at 250-300 MB/s. A run's speed then depends on how
long after the run before it started, not on what it measures. :class:`HostReporting` records
what was handed back during each run (where the kernel counts it) and, asked to, waits for the
pass before each run, so that every run starts from the same state: the one a worker sees after
any pause, its memory already back with the host.

Machines without free page reporting (bare metal, most cloud VMs) are left alone: nothing waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from memharness_s3.model.records import HOST_REPORTED_NOTABLE_BYTES

BALLOON_DEVICES = Path("/sys/bus/virtio/drivers/virtio_balloon")
REPORTING_FEATURE_BIT = 5
"""``VIRTIO_BALLOON_F_REPORTING``: the device's ``features`` file is one character per bit."""
COUNTERS = Path("/sys/module/page_reporting/parameters")
"""Where some kernels count reporting passes and the KiB reported (not mainline's)."""
REPORTING_DELAY_S = 2.0
SETTLE_AFTER_S = REPORTING_DELAY_S + 0.4
"""How long after memory was freed its reporting pass is over: the delay, then a pass that took
0.1-0.2 s for 700 MiB here."""
QUIET_S = 0.1
"""Counters unchanged this long: no pass is under way (a pass moves them every ~30 ms)."""
POLL_S = 0.02
SETTLE_FREED_BYTES = HOST_REPORTED_NOTABLE_BYTES
"""Below this much memory freed by a run, nothing worth a wait is handed back."""


def reporting_active() -> bool:
    """Whether a balloon device of this guest reports freed pages to its host."""
    try:
        devices = list(BALLOON_DEVICES.iterdir())
    except OSError:
        return False
    for device in devices:
        try:
            features = (device / "features").read_text().strip()
        except OSError:
            continue
        if len(features) > REPORTING_FEATURE_BIT and features[REPORTING_FEATURE_BIT] == "1":
            return True
    return False


def reported_counters() -> tuple[int, int] | None:
    """(passes, KiB reported) since boot, where the kernel exposes them; None elsewhere."""
    try:
        passes = int((COUNTERS / "passes").read_text())
        reported_kib = int((COUNTERS / "reported_kib").read_text())
    except (OSError, ValueError):
        return None
    return passes, reported_kib


class HostReporting:
    """Free page reporting around measured runs: what it handed back during each, and (with
    ``settle``) a wait before each until what the run before freed has gone to the host.

    Call :meth:`before_run` just before a run starts, :meth:`reported_during_run` when it ends,
    and :meth:`released` once its memory has been freed (its processes exited, its files
    removed), with how much it held. Where the kernel counts its reporting passes the wait ends
    once a pass has finished after the release (or ``SETTLE_AFTER_S`` passed with no pass under
    way); elsewhere it lasts ``SETTLE_AFTER_S`` from the release. Nothing waits on a machine
    without free page reporting, nor after a run that held under ``SETTLE_FREED_BYTES``.
    """

    def __init__(
        self,
        settle: bool,
        active: bool | None = None,
        timed: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self.active = reporting_active() if active is None else active
        self.settling = settle and self.active
        self._timed = timed
        """Times each wait (a session's ``host memory`` phase)."""
        self._released_at: float | None = None
        self._at_release: tuple[int, int] | None = None
        self._at_start: tuple[int, int] | None = None
        self.waited_s = 0.0
        """Seconds :meth:`before_run` has waited in all."""

    def before_run(self) -> None:
        """Wait (when settling) as the class says, then note the counters the run starts at."""
        if self.settling and self._released_at is not None:
            started = time.monotonic()
            with self._timed():
                self._wait(self._released_at, self._at_release)
            self.waited_s += time.monotonic() - started
        self._released_at = None
        self._at_start = reported_counters() if self.active else None

    def describe(self) -> dict[str, bool]:
        """What meta.json records: whether the machine reports freed memory, and whether runs
        waited for it."""
        return {"free_page_reporting": self.active, "settled": self.settling}

    def reported_during_run(self) -> int | None:
        """Bytes handed back to the host since :meth:`before_run`; None where not counted."""
        now = reported_counters() if self._at_start is not None else None
        if now is None or self._at_start is None:
            return None
        return (now[1] - self._at_start[1]) * 1024

    def released(self, freed_bytes: int) -> None:
        """A run's memory (``freed_bytes`` of it at its peak) has just been freed."""
        if self.settling and freed_bytes >= SETTLE_FREED_BYTES:
            self._released_at = time.monotonic()
            self._at_release = reported_counters()

    @staticmethod
    def _wait(released_at: float, at_release: tuple[int, int] | None) -> None:
        deadline = released_at + SETTLE_AFTER_S
        counters = reported_counters()
        if counters is None or at_release is None:
            time.sleep(max(0.0, deadline - time.monotonic()))
            return
        changed_at = time.monotonic()
        while True:
            now = time.monotonic()
            latest = reported_counters() or counters
            if latest != counters:
                counters, changed_at = latest, now
            if now - changed_at >= QUIET_S and (counters[0] > at_release[0] or now >= deadline):
                return
            time.sleep(POLL_S)
