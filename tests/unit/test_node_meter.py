"""When a node's charged figure is read (``NodeMeter.sample``): a sum of PSS costs a page walk per
process, so it is skipped on ticks where it could tell nothing new, and never on a tick where a
watchdog's limit could be passed (a node watchdog missed read-all's brief peak under load)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import psutil

from memharness_s3.execution.caps import V2
from memharness_s3.execution.node_memory import NodeMeter

MB = 10**6


class _Counted(NodeMeter):
    """A meter whose charged figure is a given value, counting the reads."""

    def __init__(self, value: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.value, self.reads = value, 0

    def charged(self, pids: Iterable[int]) -> int | None:
        self.reads += 1
        return self.value


def test_a_sum_of_pss_is_read_on_slow_ticks_only_when_nothing_could_be_news() -> None:
    meter = _Counted(100 * MB)
    assert meter.sample(150 * MB, [1], slow=True) == 100 * MB
    assert meter.sample(200 * MB, [1], slow=False) is None
    assert meter.reads == 1
    assert meter.rss_sum_peak == 200 * MB and meter.charged_peak == 100 * MB


def test_a_new_rss_high_is_read_when_the_charged_peak_is_the_runs_figure() -> None:
    meter = _Counted(100 * MB, follow_peaks=True)
    meter.sample(150 * MB, [1], slow=True)
    meter.value = 130 * MB
    assert meter.sample(160 * MB, [1], slow=False) == 130 * MB  # a new high
    assert meter.sample(155 * MB, [1], slow=False) is None  # below the high
    assert meter.sample(120 * MB, [1], slow=False) is None  # PSS <= RSS <= the peak seen
    assert meter.reads == 2 and meter.charged_peak == 130 * MB


def test_over_a_watchdogs_limit_every_tick_is_read() -> None:
    meter = _Counted(100 * MB)
    meter.sample(300 * MB, [1], slow=True)
    for _ in range(3):  # not a new high, but over the limit: it could have been passed
        assert meter.sample(250 * MB, [1], slow=False, limit=170 * MB) == 100 * MB
    assert meter.reads == 4
    # at or under the charged peak already seen, the limit cannot have been passed
    assert meter.sample(90 * MB, [1], slow=False, limit=50 * MB) is None
    assert meter.reads == 4


def test_a_cgroup_is_read_every_tick() -> None:
    meter = _Counted(100 * MB, cgroups=[(Path("/nonexistent"), V2)])
    for _ in range(3):
        meter.sample(50 * MB, [1], slow=False)
    assert meter.reads == 3


def test_the_pss_of_a_live_process_is_at_most_its_rss() -> None:
    meter = NodeMeter()
    rss = psutil.Process().memory_info().rss
    charged = meter.sample(rss, [os.getpid()], slow=True)
    assert charged is not None and 0 < charged <= rss * 1.01
