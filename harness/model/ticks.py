"""The progress a running group reports to whoever displays it (executors -> views)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tick:
    """Progress of a running group, for a progress display."""

    elapsed_s: float
    alive: int
    rss_bytes: int
    temp_bytes: int
