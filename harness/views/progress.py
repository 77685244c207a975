"""Progress of a long run: a live status line on a terminal, one plain line per run otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from memharness_s3.config.sizes import format_mb, format_size
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.model.ticks import Tick
from memharness_s3.plan.runs import PlannedRun


class Progress:
    """Reports finished runs (always) and the running case's ticks (on a terminal only)."""

    def __init__(self, total_runs: int, stream: TextIO | None = None) -> None:
        self.total = total_runs
        self.done = 0
        # sys.stderr as it is now, not as it was when this module was imported (a caller, or a
        # test's capture, may have replaced it since).
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self._line_open = False

    def tick(self, run: PlannedRun, tick: Tick) -> None:
        if not self.live:
            return
        case = run.case
        line = (
            f"[{self.done + 1}/{self.total}] {case.strategy} {format_size(case.size_bytes)} "
            f"x{case.concurrency}: {tick.elapsed_s:6.1f} s, {tick.alive} alive, "
            f"RSS {format_mb(tick.rss_bytes)} MB, temp {format_mb(tick.temp_bytes)} MB"
        )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._line_open = True

    def result(self, result: RunResult) -> None:
        # A run the backend broke (infra) is run again: its re-run is the one that counts.
        if result.worker == 0 and result.status != INFRA:
            self.done += 1
        number = self.done + 1 if result.status == INFRA else self.done
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        worker = f" worker {result.worker}" if result.concurrency > 1 else ""
        wall = "-" if result.wall_s is None else f"{result.wall_s:.2f} s"
        self.stream.write(
            f"[{number}/{self.total}] {result.strategy} {format_size(result.size_bytes)} "
            f"x{result.concurrency}{worker}: {result.status}, "
            f"peak {format_mb(result.peak_rss_bytes)} MB, {wall}\n"
        )
        self.stream.flush()

    def say(self, message: str) -> None:
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.write(message + "\n")
        self.stream.flush()
