"""Tests for harness.pdfgen: exact size, valid structure, determinism, incompressibility."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import tracemalloc
import zlib
from pathlib import Path

import pymupdf
import pytest

from memharness_s3.s3.pdfgen import (
    DEFAULT_PAGE_BYTES,
    MAX_TARGET_BYTES,
    MIN_TARGET_BYTES,
    GeneratedPdf,
    plan_pages,
    target_bytes_problem,
    write_pdf,
)

KIB = 1024
MIB = 1024 * 1024


def _check_structure(data: bytes) -> None:
    """Check header, classic xref (20-byte entries, offsets at their objects) and trailer."""
    assert data.startswith(b"%PDF-1.7\n%")
    assert all(byte >= 128 for byte in data[10:14])
    assert data.endswith(b"%%EOF\n")
    tail = re.search(rb"startxref\n(\d+)\n%%EOF\n\Z", data)
    assert tail is not None
    xref_offset = int(tail.group(1))
    head = re.compile(rb"xref\n0 (\d+)\n").match(data, xref_offset)
    assert head is not None
    size = int(head.group(1))
    entries = data[head.end() : head.end() + 20 * size]
    assert entries[:20] == b"0000000000 65535 f \n"
    for number in range(1, size):
        entry = entries[20 * number : 20 * (number + 1)]
        assert re.fullmatch(rb"\d{10} 00000 n \n", entry), entry
        offset = int(entry[:10])
        assert data.startswith(b"%d 0 obj\n" % number, offset)
    trailer = data[head.end() + 20 * size : tail.start()]
    assert re.fullmatch(
        rb"trailer\n<< /Size %d /Root 1 0 R /ID \[<[0-9a-f]{32}> <[0-9a-f]{32}>\] *>>\n" % size,
        trailer,
    ), trailer


def _check_with_pymupdf(result: GeneratedPdf) -> None:
    pymupdf.TOOLS.mupdf_warnings(reset=True)
    with pymupdf.open(result.path) as doc:
        assert doc.page_count == result.pages
        image_bytes = 0
        for page in doc:
            assert page.get_text().strip() == f"Page {page.number + 1}"
            ((xref, *_),) = page.get_images()
            width = int(doc.xref_get_key(xref, "Width")[1])
            height = int(doc.xref_get_key(xref, "Height")[1])
            stream = doc.xref_stream_raw(xref)
            assert len(stream) == width * height
            image_bytes += len(stream)
        assert not doc.is_repaired
    assert pymupdf.TOOLS.mupdf_warnings() == ""
    assert result.size_bytes - image_bytes < KIB * (result.pages + 2)


@pytest.mark.parametrize(
    ("target", "page_bytes"),
    [
        (4 * KIB, DEFAULT_PAGE_BYTES),
        (64 * KIB, DEFAULT_PAGE_BYTES),
        (1_000_000, DEFAULT_PAGE_BYTES),
        (3_000_007, DEFAULT_PAGE_BYTES),
        (10_000_000, DEFAULT_PAGE_BYTES),
        (1_000_003, 64 * KIB),
        (2 * MIB + 1, 5 * MIB),
    ],
)
def test_exact_size_and_valid_pdf(tmp_path: Path, target: int, page_bytes: int) -> None:
    path = tmp_path / "out.pdf"
    result = write_pdf(path, target, "seed", page_bytes)
    data = path.read_bytes()
    assert result.path == path
    assert result.size_bytes == len(data) == target
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.pages == plan_pages(target, page_bytes)
    assert b"/CreationDate" not in data
    _check_structure(data)
    _check_with_pymupdf(result)
    assert list(tmp_path.iterdir()) == [path]


def test_exact_size_when_startxref_gains_a_digit(tmp_path: Path) -> None:
    probe = tmp_path / "probe.pdf"
    write_pdf(probe, 1_000_000, "seed")
    tail_bytes = 1_000_000 - int(re.findall(rb"startxref\n(\d+)", probe.read_bytes())[-1])
    for target in range(10**6 + tail_bytes - 2, 10**6 + tail_bytes + 3):
        path = tmp_path / f"{target}.pdf"
        result = write_pdf(path, target, "seed")
        data = path.read_bytes()
        assert result.size_bytes == len(data) == target
        _check_structure(data)
        _check_with_pymupdf(result)


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    first = write_pdf(tmp_path / "a.pdf", 2 * MIB + 3, "alpha")
    second = write_pdf(tmp_path / "b.pdf", 2 * MIB + 3, "alpha")
    other = write_pdf(tmp_path / "c.pdf", 2 * MIB + 3, "beta")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert other.sha256 != first.sha256
    assert other.size_bytes == first.size_bytes


def test_payload_is_incompressible(tmp_path: Path) -> None:
    result = write_pdf(tmp_path / "big.pdf", 10_000_000, "seed")
    with result.path.open("rb") as file:
        file.seek(result.size_bytes // 2 - MIB // 2)
        middle = file.read(MIB)
    assert len(zlib.compress(middle)) >= 0.95 * len(middle)


def _expected_noise(seed: str, page: int, size: int) -> bytes:
    """The image bytes the module docstring promises: SHAKE128 of "seed:page:block", 512 KiB
    blocks."""
    block_bytes = 512 * KIB
    return b"".join(
        hashlib.shake_128(f"{seed}:{page}:{block}".encode()).digest(min(block_bytes, size - start))
        for block, start in enumerate(range(0, size, block_bytes))
    )


def _image_streams(path: Path) -> list[bytes]:
    with pymupdf.open(path) as doc:
        return [doc.xref_stream_raw(page.get_images()[0][0]) for page in doc]


@pytest.mark.parametrize(
    ("target", "page_bytes"), [(3_000_007, DEFAULT_PAGE_BYTES), (2 * MIB + 1, 5 * MIB)]
)
def test_image_bytes_are_shake128_blocks_of_the_seed_and_page(
    tmp_path: Path, target: int, page_bytes: int
) -> None:
    result = write_pdf(tmp_path / "out.pdf", target, "seed", page_bytes)
    streams = _image_streams(result.path)
    assert len(streams) == result.pages
    for page, stream in enumerate(streams):
        assert stream == _expected_noise("seed", page, len(stream))


def test_every_page_image_is_distinct_and_incompressible(tmp_path: Path) -> None:
    result = write_pdf(tmp_path / "out.pdf", 10_000_000, "seed")
    streams = _image_streams(result.path)
    assert len(streams) == 19
    assert len({stream[: 4 * KIB] for stream in streams}) == len(streams)
    for stream in streams:
        assert len(zlib.compress(stream, 1)) >= len(stream)


def test_large_page_blocks_differ_from_each_other(tmp_path: Path) -> None:
    result = write_pdf(tmp_path / "out.pdf", 3 * MIB, "seed", page_bytes=4 * MIB)
    (stream,) = _image_streams(result.path)
    blocks = [stream[start : start + 512 * KIB] for start in range(0, len(stream), 512 * KIB)]
    assert len(blocks) == 6
    assert len({block[:KIB] for block in blocks}) == len(blocks)
    assert len(zlib.compress(stream, 9)) >= len(stream)


def _hasher_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "pdfgen-sha256"]


def test_no_hasher_thread_outlives_a_write(tmp_path: Path) -> None:
    write_pdf(tmp_path / "out.pdf", 3 * MIB, "seed")
    assert _hasher_threads() == []


def test_write_failure_stops_the_hasher_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = 0

    def write(fd: int, data: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls > 10:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError, match="No space left"):
        write_pdf(tmp_path / "out.pdf", 10_000_000, "seed")
    assert calls == 11
    assert list(tmp_path.iterdir()) == []
    assert _hasher_threads() == []


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: memoryview) -> int:
        return real_write(fd, data[: max(1, len(data) // 3)])

    monkeypatch.setattr(os, "write", short_write)
    result = write_pdf(tmp_path / "out.pdf", 1_000_003, "seed", page_bytes=64 * KIB)
    data = result.path.read_bytes()
    assert len(data) == result.size_bytes == 1_000_003
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    _check_structure(data)


def test_hash_failure_is_raised_not_hung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_sha256 = hashlib.sha256

    class FailingHash:
        def update(self, data: bytes) -> None:
            raise MemoryError("hash broke")

        def hexdigest(self) -> str:
            raise AssertionError("never reached")

    def sha256(*data: bytes) -> object:
        return real_sha256(*data) if data else FailingHash()

    monkeypatch.setattr("memharness_s3.s3.pdfgen.hashlib.sha256", sha256)
    with pytest.raises(MemoryError, match="hash broke"):
        write_pdf(tmp_path / "out.pdf", 10_000_000, "seed")
    assert list(tmp_path.iterdir()) == []
    assert _hasher_threads() == []


def test_memory_stays_flat_for_a_single_large_page(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        result = write_pdf(tmp_path / "one-page.pdf", 24 * MIB, "seed", page_bytes=64 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.pages == 1
    assert result.size_bytes == 24 * MIB
    assert peak < 4 * MIB


def test_overwrites_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.pdf"
    path.write_bytes(b"stale")
    result = write_pdf(path, 64 * KIB, "seed")
    assert path.stat().st_size == result.size_bytes == 64 * KIB


def test_failure_leaves_neither_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        write_pdf(tmp_path / "out.pdf", 64 * KIB, "seed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", [-1, 0, 1, 4 * KIB - 1, 10**10])
def test_rejects_impossible_targets(tmp_path: Path, target: int) -> None:
    with pytest.raises(ValueError, match="target_bytes"):
        write_pdf(tmp_path / "out.pdf", target, "seed")
    assert list(tmp_path.iterdir()) == []


def test_target_bytes_problem_names_the_limits() -> None:
    assert target_bytes_problem(MIN_TARGET_BYTES) is None
    assert target_bytes_problem(MAX_TARGET_BYTES) is None
    assert target_bytes_problem(MIN_TARGET_BYTES - 1) == (
        "below the smallest PDF the generator writes (4 KiB, 4,096 bytes)"
    )
    assert target_bytes_problem(MAX_TARGET_BYTES + 1) == (
        "above the largest PDF the generator writes (9.99 GB, 9,999,999,999 bytes: "
        "a classic xref table holds 10-digit offsets)"
    )


def test_the_smallest_target_is_a_valid_pdf(tmp_path: Path) -> None:
    result = write_pdf(tmp_path / "out.pdf", MIN_TARGET_BYTES, "seed")
    assert result.size_bytes == MIN_TARGET_BYTES == result.path.stat().st_size
    _check_structure(result.path.read_bytes())
    _check_with_pymupdf(result)


def test_rejects_pages_too_small_for_their_structure(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        write_pdf(tmp_path / "out.pdf", 64 * KIB, "seed", page_bytes=KIB)
    assert list(tmp_path.iterdir()) == []


def test_plan_pages() -> None:
    assert plan_pages(1) == 1
    assert plan_pages(64 * KIB) == 1
    assert plan_pages(10_000_000) == 19
    assert plan_pages(2 * 1024**3) == 4096
    assert plan_pages(2_000_000_000) == 3815
    assert plan_pages(10 * MIB, MIB) == 10
    with pytest.raises(ValueError):
        plan_pages(0)
    with pytest.raises(ValueError):
        plan_pages(MIB, 0)
