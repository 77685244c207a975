"""Free page reporting around runs: when a run waits for the host, and what a run records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memharness_s3.execution import host_memory
from memharness_s3.execution.host_memory import HostReporting

MIB = 2**20


class FakeCounters:
    """The kernel's (passes, KiB reported), moved on by the test or after so many reads."""

    def __init__(self, pass_after_reads: int | None = None) -> None:
        self.passes, self.kib = 10, 1000
        self.reads = 0
        self.pass_after_reads = pass_after_reads

    def report(self, kib: int) -> None:
        self.passes += 1
        self.kib += kib

    def __call__(self) -> tuple[int, int]:
        self.reads += 1
        if self.pass_after_reads is not None and self.reads == self.pass_after_reads:
            self.report(700 * 1024)
        return self.passes, self.kib


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(host_memory, "SETTLE_AFTER_S", 0.3)
    monkeypatch.setattr(host_memory, "QUIET_S", 0.02)
    monkeypatch.setattr(host_memory, "POLL_S", 0.005)
    yield


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch, quick: None) -> FakeCounters:
    """Counted passes, and a deadline far enough off that only a pass can end a wait."""
    monkeypatch.setattr(host_memory, "SETTLE_AFTER_S", 60.0)
    fake = FakeCounters()
    monkeypatch.setattr(host_memory, "reported_counters", fake)
    return fake


def test_without_counters_a_settling_run_waits_out_the_reporting_delay(
    monkeypatch: pytest.MonkeyPatch, quick: None
) -> None:
    monkeypatch.setattr(host_memory, "reported_counters", lambda: None)
    host = HostReporting(settle=True, active=True)
    host.before_run()  # nothing released yet: no wait
    assert host.waited_s == 0
    host.released(750 * MIB)
    started = time.monotonic()
    host.before_run()
    assert time.monotonic() - started >= 0.3
    assert host.waited_s >= 0.3
    assert host.reported_during_run() is None


def test_with_counters_the_wait_ends_at_the_first_pass_after_the_release(
    counters: FakeCounters,
) -> None:
    host = HostReporting(settle=True, active=True)
    host.released(750 * MIB)
    counters.pass_after_reads = counters.reads + 5
    host.before_run()
    assert counters.passes == 11  # it waited for the pass, not for the 60 s deadline
    assert host.waited_s < 60
    counters.report(64 * 1024)  # a pass while the run runs
    assert host.reported_during_run() == 64 * MIB


def test_a_small_run_or_a_run_not_settling_does_not_wait(counters: FakeCounters) -> None:
    small = HostReporting(settle=True, active=True)
    small.released(host_memory.SETTLE_FREED_BYTES - 1)
    small.before_run()
    leave = HostReporting(settle=False, active=True)
    leave.released(750 * MIB)
    leave.before_run()
    assert small.waited_s == 0 and leave.waited_s == 0
    counters.report(2048)
    assert leave.reported_during_run() == 2 * MIB  # recorded, though not waited for


def test_a_machine_without_reporting_neither_waits_nor_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(host_memory, "reported_counters", FakeCounters())
    host = HostReporting(settle=True, active=False)
    host.released(750 * MIB)
    host.before_run()
    assert host.waited_s == 0 and host.reported_during_run() is None


@pytest.mark.parametrize(("bit", "expected"), [("1", True), ("0", False)])
def test_reporting_is_the_balloon_devices_feature_bit_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bit: str, expected: bool
) -> None:
    device = tmp_path / "virtio0"
    device.mkdir()
    (device / "features").write_text("01100" + bit + "0" * 58 + "\n")
    monkeypatch.setattr(host_memory, "BALLOON_DEVICES", tmp_path)
    assert host_memory.reporting_active() is expected
    monkeypatch.setattr(host_memory, "BALLOON_DEVICES", tmp_path / "absent")
    assert host_memory.reporting_active() is False
