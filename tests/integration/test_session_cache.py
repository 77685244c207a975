"""s3rver's data directory kept in the cache: a second session uploads nothing, a damaged cached
object is read back and made again, two sessions at once never share it; meta.json's phases."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.config.settings import RunSettings
from memharness_s3.execution.phases import BACKEND_START, MEASURED_RUNS, UPLOAD, VERIFICATION, WIRE
from memharness_s3.execution.session import Session, Target
from memharness_s3.model.records import RunResult
from memharness_s3.s3.backends import data_cache
from memharness_s3.s3.backends.s3rver import CACHE_KEY
from memharness_s3.views.progress import Progress

SIZE = 2 * 10**6
COPIES = 2


def _session(cache: Path, out: Path) -> tuple[list[RunResult], dict[str, Any], str]:
    """One s3rver session of chunked on a 2 MB fixture, one worker and two at once (a copy)."""
    settings = RunSettings(
        sizes=[("2MB", SIZE)], strategies=["chunked"], concurrency=[1, COPIES], backend="s3rver"
    )
    stream = io.StringIO()
    session = Session(
        settings, Target(seed="tests", cache_dir=cache), out, progress=Progress(0, stream)
    )
    results = session.run()
    return results, json.loads((out / "meta.json").read_text()), stream.getvalue()


def _stored_object(cache: Path, key: str) -> Path:
    data = cache / data_cache.SERVERS_DIR / CACHE_KEY / data_cache.DATA_DIR
    (found,) = data.rglob(f"{Path(key).name}._S3rver_object")
    return found


@pytest.mark.integration
def test_a_second_session_uploads_nothing_and_a_damaged_object_is_made_again(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    first, meta, said = _session(cache, tmp_path / "one")
    assert all(r.status == "ok" and r.verified for r in first)
    assert meta["uploaded_bytes"] == SIZE  # the fixture; its copy is made on the server
    assert meta["copied_bytes"] == SIZE * (COPIES - 1)
    assert meta["read_back_bytes"] == SIZE * COPIES
    assert "kept between sessions" in said

    second, meta, said = _session(cache, tmp_path / "two")
    assert all(r.status == "ok" and r.verified for r in second)
    assert (meta["uploaded_bytes"], meta["copied_bytes"], meta["read_back_bytes"]) == (0, 0, 0)
    assert "objects: 0 B uploaded, 0 B copied on the server, 0 B read back" in said
    assert f"({COPIES} unchanged since an earlier read-back)" in said

    # Other bytes of the same size in the copy's file: its size and sha256 metadata still
    # match, so only a read-back can find it; it is made again from the fixture.
    copy_key = next(r.object_key for r in second if r.worker == 1)
    stored = _stored_object(cache, copy_key)
    stored.write_bytes(b"\0" * stored.stat().st_size)
    third, meta, _ = _session(cache, tmp_path / "three")
    assert all(r.status == "ok" and r.verified for r in third)
    assert meta["read_back_bytes"] == SIZE * 2  # the damaged copy, before and after
    assert meta["uploaded_bytes"] == SIZE
    assert stored.read_bytes()[:5] == b"%PDF-"


@pytest.mark.integration
def test_meta_records_phases_and_uploaded_bytes(tmp_path: Path) -> None:
    results, meta, _ = _session(tmp_path / "cache", tmp_path / "out")
    phases = meta["phases"]
    for name in (BACKEND_START, UPLOAD, VERIFICATION, WIRE, MEASURED_RUNS):
        assert phases[name] > 0, name
    assert isinstance(meta["uploaded_bytes"], int)
    # The wire is measured once, before the first run of its object, and carried onto its runs.
    (samples,) = meta["wire_mb_s"].values()
    assert len(samples) == 3
    assert {r.wire_mb_s for r in results} == {round(sorted(samples)[1], 1)}
    slowest: dict[str, float] = {}
    for r in results:
        assert r.wall_s is not None
        slowest[r.group_id] = max(slowest.get(r.group_id, 0.0), r.wall_s)
    assert meta["measured_fetch_s"] == round(sum(slowest.values()), 2)
