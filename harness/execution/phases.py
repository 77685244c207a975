"""Where a session's wall time goes: named phases, timed, for meta.json's ``phases``.

Measuring fetches is what a session is for; starting the backend, generating and uploading
fixtures, the wire yardstick, verification and the report are what a user waits for around it.
Each is timed with :meth:`PhaseClock.phase`. Phases nest, and a phase's seconds are its own:
the wire measured between two measured runs counts as ``wire``, not as ``measured runs``, so
the phases add up to the time they cover.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

BACKEND_START = "backend start"
FIXTURES = "fixture generation"
UPLOAD = "upload/copies"
VERIFICATION = "verification"
WIRE = "wire"
MEASURED_RUNS = "measured runs"
HOST_MEMORY = "host memory settle"
"""Waiting, before runs, for a VM's freed memory to go back to its host (``host_memory``)."""
REPORT = "report"


class PhaseClock:
    """Seconds per phase name, each phase's own (time spent in a phase nested in it excluded)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._open: list[str] = []
        self._since = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as ``name``; the phase it interrupts is paused meanwhile."""
        self._switch()
        self._open.append(name)
        try:
            yield
        finally:
            self._switch()
            self._open.pop()

    def rounded(self) -> dict[str, float]:
        """The phases as meta.json records them (seconds to 0.01 s)."""
        return {name: round(seconds, 2) for name, seconds in self.seconds.items()}

    def _switch(self) -> None:
        now = time.perf_counter()
        if self._open:
            name = self._open[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._since
        self._since = now
