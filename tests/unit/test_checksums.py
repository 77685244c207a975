"""Verification by CRC-32: a worker checks every fetched byte against the object's CRC-32 when
it is known, else its sha256, and a fixture's manifest gains the CRC-32 it lacked."""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import pytest

from memharness_s3.execution import worker
from memharness_s3.model.checksums import file_crc32
from memharness_s3.model.records import Case, FetchReport, ObjectRef, WorkerJob
from memharness_s3.s3.fixture_cache import ensure_fixture
from memharness_s3.strategies.base import Fetched

DATA = bytes(range(256)) * 4096


def _ref(*, crc32: int | None, sha256: str | None) -> ObjectRef:
    return ObjectRef("b", "k", len(DATA), sha256, None, None, crc32=crc32)


def _job(tmp_path: Path) -> WorkerJob:
    case = Case(strategy="chunked", size_bytes=len(DATA), object_name="x")
    return WorkerJob(case, "m:C", [], "http://x", "us-east-1", str(tmp_path), {})


def _check(tmp_path: Path, obj: ObjectRef, fetched: Fetched) -> FetchReport:
    report = FetchReport()
    worker._verify_and_process(_job(tmp_path), obj, tmp_path, fetched, report)
    return report


def test_file_crc32_is_zlibs_over_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA * 3)  # three buffers' worth and a bit: more than one read
    assert file_crc32(path) == (len(DATA) * 3, zlib.crc32(DATA * 3))


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_crc32_is_what_is_checked_when_known(tmp_path: Path, in_memory: bool) -> None:
    path = tmp_path / "got"
    path.write_bytes(DATA)
    fetched = Fetched(data=DATA) if in_memory else Fetched(path=path)
    right = _ref(crc32=zlib.crc32(DATA), sha256="not-consulted")
    report = _check(tmp_path, right, fetched)
    assert report.verified is True and report.sha256 is None
    wrong = _ref(crc32=zlib.crc32(DATA) ^ 1, sha256=hashlib.sha256(DATA).hexdigest())
    with pytest.raises(worker.VerificationError, match="CRC-32 of the fetched bytes"):
        _check(tmp_path, wrong, fetched)


def test_the_sha256_is_checked_when_no_crc32_is_known(tmp_path: Path) -> None:
    ok = _check(tmp_path, _ref(crc32=None, sha256=hashlib.sha256(DATA).hexdigest()), Fetched(DATA))
    assert ok.verified is True and ok.crc32 is None
    with pytest.raises(worker.VerificationError, match="sha256 of the fetched bytes"):
        _check(tmp_path, _ref(crc32=None, sha256="0" * 64), Fetched(DATA))
    size_only = _check(tmp_path, _ref(crc32=None, sha256=None), Fetched(DATA))
    assert size_only.verified is None
    with pytest.raises(worker.VerificationError, match="fetched 1 bytes"):
        _check(tmp_path, _ref(crc32=None, sha256=None), Fetched(b"x"))


def test_a_manifest_without_a_crc32_gains_one(tmp_path: Path) -> None:
    first = ensure_fixture("64KB", 64 * 1024, "tests", tmp_path)
    assert first.crc32 == zlib.crc32(first.path.read_bytes())
    manifest_path = first.path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    del manifest["crc32"]  # as written before the CRC-32 was recorded
    manifest_path.write_text(json.dumps(manifest))
    again = ensure_fixture("64KB", 64 * 1024, "tests", tmp_path)
    assert again == first
    assert json.loads(manifest_path.read_text())["crc32"] == first.crc32
