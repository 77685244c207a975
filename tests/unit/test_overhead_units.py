"""What a session does besides measuring, kept cheap: no sync with nothing dirty, no hash of an
unchanged cached file, a read-back once per cached object, the wire once per object; and where
the time went (phases)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from memharness_s3.execution import phases, procfs
from memharness_s3.execution.session import WireOnFirstUse, _wire_of_resumed, measured_fetch_s
from memharness_s3.model.records import Case, ObjectRef
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.s3 import fixture_cache
from memharness_s3.s3.backends import DEFAULT_REGION, Backend, data_cache
from memharness_s3.s3.fixture_cache import ensure_fixture
from memharness_s3.s3.readback_ledger import ReadBackLedger
from tests.support.results import result

MB = 10**6


@pytest.mark.parametrize(
    ("dirty", "writeback", "syncs"),
    [(0, 0, 0), (procfs.SETTLED_DIRTY_BYTES, 0, 0), (procfs.SETTLED_DIRTY_BYTES, 4096, 1)],
)
def test_sync_only_when_pages_are_dirty(
    monkeypatch: pytest.MonkeyPatch, dirty: int, writeback: int, syncs: int
) -> None:
    calls: list[None] = []
    monkeypatch.setattr(os, "sync", lambda: calls.append(None))
    monkeypatch.setattr(
        procfs, "meminfo_bytes", lambda *names: {"Dirty": dirty, "Writeback": writeback}
    )
    assert procfs.settle_dirty_pages() == {"Dirty": dirty, "Writeback": writeback}
    assert len(calls) == syncs


def test_an_unchanged_cached_fixture_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_fixture("64KB", 64 * 1024, "tests", tmp_path)
    hashed: list[Path] = []
    real = fixture_cache._sha256

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(fixture_cache, "_sha256", counted)
    assert ensure_fixture("64KB", 64 * 1024, "tests", tmp_path) == first
    assert hashed == []
    os.utime(first.path)  # touched, not changed: hashed once, then trusted again
    assert ensure_fixture("64KB", 64 * 1024, "tests", tmp_path) == first
    assert ensure_fixture("64KB", 64 * 1024, "tests", tmp_path) == first
    assert hashed == [first.path]


def _ref(key: str = "fixtures/a.pdf", size: int = 3) -> ObjectRef:
    return ObjectRef(bucket="b", key=key, size_bytes=size, sha256="ab", pages=1, fixture="a")


def test_the_ledger_vouches_only_for_an_object_whose_files_and_etag_are_unchanged(
    tmp_path: Path,
) -> None:
    stored = tmp_path / "a.pdf._S3rver_object"
    stored.write_bytes(b"abc")
    path = tmp_path / "verified.json"
    ledger = ReadBackLedger.load(path)
    assert not ledger.vouches(_ref(), '"e1"', [stored])
    ledger.record(_ref(), '"e1"', [stored])
    again = ReadBackLedger.load(path)  # a later session
    assert again.vouches(_ref(), '"e1"', [stored])
    assert not again.vouches(_ref(), '"e2"', [stored])
    assert not again.vouches(_ref(size=4), '"e1"', [stored])
    assert not again.vouches(_ref(key="fixtures/b.pdf"), '"e1"', [stored])
    assert not again.vouches(_ref(), '"e1"', [stored, tmp_path / "missing"])
    stored.write_bytes(b"abd")  # same size, other bytes: its ctime moved
    assert not again.vouches(_ref(), '"e1"', [stored])
    again.forget(_ref())
    assert json.loads(path.read_text()) == {}


def test_an_unreadable_ledger_vouches_for_nothing(tmp_path: Path) -> None:
    path = tmp_path / "verified.json"
    path.write_text("{not json")
    stored = tmp_path / "x"
    stored.write_bytes(b"abc")
    assert not ReadBackLedger.load(path).vouches(_ref(), '"e1"', [stored])


def test_the_cached_data_directory_is_one_sessions_at_a_time(tmp_path: Path) -> None:
    first = data_cache.claim(tmp_path, "s3rver-x")
    assert first is not None and first.path.is_dir()
    assert data_cache.claim(tmp_path, "s3rver-x") is None
    assert data_cache.claim(tmp_path, "other-server") is not None
    first.release()
    again = data_cache.claim(tmp_path, "s3rver-x")
    assert again is not None and again.path == first.path
    again.release()


def test_phases_count_their_own_time_only(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([0.0, 1.0, 3.0, 4.0, 10.0])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    clock = phases.PhaseClock()  # 0
    with clock.phase("runs"):  # 1
        assert clock.seconds == {}
        with clock.phase("wire"):  # 3
            pass  # 4
    # 10
    assert clock.seconds == {"runs": 2.0 + 6.0, "wire": 1.0}


def test_the_wire_is_measured_once_per_object_when_its_first_run_is_taken() -> None:
    def run(key: str) -> PlannedRun:
        return PlannedRun(Case("chunked", "1MB", MB), [_ref(key)], "case")

    asked: list[str] = []

    def wire_of(key: str) -> float | None:
        asked.append(key)
        return {"a": 100.0, "b": 200.0}[key]

    runs = WireOnFirstUse([run("a"), run("a"), run("b")], wire_of)
    assert asked == [] and len(runs) == 3
    assert [r.wire_mb_s for r in runs] == [100.0, 100.0, 200.0]
    assert [r.objects[0].key for r in runs[1:]] == ["a", "b"]


def test_a_resumed_session_reuses_the_wire_of_the_same_backend(tmp_path: Path) -> None:
    meta = {"backend": "s3rver", "endpoint_url": "http://127.0.0.1:1", "wire_mb_s": {"k": [1, 2.5]}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    s3rver = Backend("s3rver", "http://127.0.0.1:2", DEFAULT_REGION)
    assert _wire_of_resumed(tmp_path, s3rver) == {"k": [1.0, 2.5]}
    assert _wire_of_resumed(tmp_path, Backend("moto", "http://127.0.0.1:2", DEFAULT_REGION)) == {}


def test_measured_fetch_seconds_are_each_runs_slowest_worker() -> None:
    case = Case("chunked", "1MB", MB, concurrency=2)
    lines = [
        dataclasses.replace(result(case, 60.0), wall_s=wall_s, group_id=group)
        for wall_s, group in [(1.0, "g1"), (3.0, "g1"), (2.0, "g2"), (None, "g3")]
    ]
    assert measured_fetch_s(lines) == 5.0
