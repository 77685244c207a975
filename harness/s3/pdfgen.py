"""Deterministic, streaming generator of valid PDFs of an exact size.

The file is laid out as::

    %PDF-1.7 header and a binary comment line
    1 0 obj  Catalog
    2 0 obj  Pages (a flat /Kids array)
    3 0 obj  Helvetica Type1 font, shared by every page
    then for page i (0-based), objects 4+3i, 5+3i and 6+3i:
        Page          MediaBox, resources /F1 and /Im0, contents
        content       draws /Im0 over the whole page and writes "Page N"
        image XObject DeviceGray, 8 bits, no filter, 1024 wide, random bytes
    classic xref table, trailer with /Size /Root /ID, startxref, %%EOF

Every number that depends on the size (image /Height and /Length, content /Length) is written
space-padded to a fixed width inside its dictionary, and the trailer dictionary is space-padded
so that the tail length does not depend on the digits of the startxref offset. The overhead is
therefore a function of the page count alone: a counting pass with empty images measures it,
the rows of image data (1024 bytes each) fill what is left as evenly as possible across the
pages, and a comment line in the last page's content stream takes up the final few bytes.

The image bytes of page i (0-based) are SHAKE128 output in counter mode: block j of 512 KiB is
the first bytes of ``shake_128(f"{seed}:{i}:{j}".encode())``, the last block of a page cut to
what the page needs. So the output depends only on (target_bytes, seed, page_bytes), does not
compress, and differs from page to page. The calling thread makes the bytes and writes them with
``os.write`` to ``<path>.part``; a helper thread feeds the same chunks, in the same order, to
sha256 (which releases the GIL), through a queue of a few chunks so memory stays flat. The
``.part`` file is renamed onto ``path`` once complete. (Generator version 1 drew the noise from
``random.Random(f"{seed}:{i}").randbytes``, at about two thirds of SHAKE128's speed, and hashed
and wrote it in the same thread.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

DEFAULT_PAGE_BYTES = 512 * 1024
MIN_TARGET_BYTES = 4 * 1024
MAX_TARGET_BYTES = 10**10 - 1  # a classic xref entry holds a 10-digit offset

_IMAGE_WIDTH = 1024
_PAGE_WIDTH = 612
_PAGE_HEIGHT = 792
_NUMBER_WIDTH = 10
_NOISE_BLOCK_BYTES = 512 * 1024
_HASH_QUEUE_CHUNKS = 4  # chunks written but not yet hashed, at most; each at most a noise block
_FIRST_PAGE_OBJECT = 4
_OBJECTS_PER_PAGE = 3
_MIN_PADDING = 2  # the shortest comment line, "%\n"

_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
_OBJECT_END = b"\nendobj\n"
_STREAM_END = b"\nendstream" + _OBJECT_END


@dataclass(frozen=True)
class GeneratedPdf:
    """A PDF written by :func:`write_pdf`."""

    path: Path
    size_bytes: int
    sha256: str
    pages: int


@dataclass(frozen=True)
class _Plan:
    seed: str
    file_id: str
    pages: int
    rows: int
    padding: int

    def page_rows(self, index: int) -> int:
        base, extra = divmod(self.rows, self.pages)
        return base + (1 if index < extra else 0)


class _Sink:
    """Counts the bytes a layout produces without producing them."""

    def __init__(self) -> None:
        self.position = 0

    def write(self, data: bytes) -> None:
        self.position += len(data)

    def write_noise(self, seed: str, size: int) -> None:
        self.position += size


class _FileSink(_Sink):
    """Writes to a file descriptor and hashes exactly the bytes written.

    The calling thread makes and writes the bytes; a helper thread hashes the same chunks in
    the same order. Writing from the thread that makes the bytes is deliberate: SHAKE128 holds
    the GIL, and each ``os.write`` releases it, which lets the hasher in at once rather than
    after the interpreter's switch interval (a hasher that also wrote fell behind for that).
    Use as a context manager, and call :meth:`finish` for the digest.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._digest = hashlib.sha256()
        self._pending = bytearray()
        self._chunks: queue.Queue[bytes | bytearray | None] = queue.Queue(_HASH_QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._hasher = threading.Thread(target=self._hash_chunks, name="pdfgen-sha256", daemon=True)
        self._hasher.start()

    def __enter__(self) -> _FileSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop_hasher()

    def write(self, data: bytes) -> None:
        self._pending += data
        self.position += len(data)
        if len(self._pending) >= _NOISE_BLOCK_BYTES:
            self._flush()

    def write_noise(self, seed: str, size: int) -> None:
        self._flush()
        for block, start in enumerate(range(0, size, _NOISE_BLOCK_BYTES)):
            self._write_chunk(_noise_block(seed, block, min(_NOISE_BLOCK_BYTES, size - start)))
        self.position += size

    def finish(self) -> str:
        """Write what is pending, wait for the hasher and return the sha256 hex digest."""
        self._flush()
        self._stop_hasher()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def _flush(self) -> None:
        if self._pending:
            self._write_chunk(self._pending)
            self._pending = bytearray()

    def _write_chunk(self, chunk: bytes | bytearray) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]
        self._chunks.put(chunk)
        if self._error is not None:
            raise self._error

    def _stop_hasher(self) -> None:
        if self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()

    def _hash_chunks(self) -> None:
        # Drains to the end even after a failure, so that a put never waits forever.
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._digest.update(chunk)
                except BaseException as error:
                    self._error = error


def _noise_block(seed: str, block: int, size: int) -> bytes:
    """Block ``block`` of the noise named ``seed``: the first ``size`` bytes of its SHAKE128."""
    return hashlib.shake_128(b"%s:%d" % (seed.encode(), block)).digest(size)


def plan_pages(target_bytes: int, page_bytes: int = DEFAULT_PAGE_BYTES) -> int:
    """Return the page count for a file of ``target_bytes``: one page per ``page_bytes``."""
    if target_bytes <= 0 or page_bytes <= 0:
        raise ValueError(
            f"target_bytes and page_bytes must be positive, got {target_bytes} and {page_bytes}"
        )
    return max(1, round(target_bytes / page_bytes))


def target_bytes_problem(target_bytes: int) -> str | None:
    """Why :func:`write_pdf` cannot write a file of ``target_bytes``, or None when it can.

    A phrase to follow "is", naming the limit, e.g. "above the largest PDF the generator writes
    (9.99 GB, ...)".
    """
    if target_bytes < MIN_TARGET_BYTES:
        return (
            f"below the smallest PDF the generator writes "
            f"({MIN_TARGET_BYTES // 1024} KiB, {MIN_TARGET_BYTES:,} bytes)"
        )
    if target_bytes > MAX_TARGET_BYTES:
        # Rounded down: "10 GB" would name a size that is itself refused.
        return (
            f"above the largest PDF the generator writes "
            f"({MAX_TARGET_BYTES // 10**7 / 100:.2f} GB, {MAX_TARGET_BYTES:,} bytes: "
            "a classic xref table holds 10-digit offsets)"
        )
    return None


def write_pdf(
    path: Path, target_bytes: int, seed: str, page_bytes: int = DEFAULT_PAGE_BYTES
) -> GeneratedPdf:
    """Write a valid PDF of exactly ``target_bytes`` to ``path``, determined by the arguments."""
    if (problem := target_bytes_problem(target_bytes)) is not None:
        raise ValueError(f"target_bytes {target_bytes} is {problem}")
    plan = _plan(target_bytes, seed, page_bytes)
    part = path.with_suffix(path.suffix + ".part")
    try:
        with part.open("wb", buffering=0) as file, _FileSink(file.fileno()) as sink:
            _emit(sink, plan)
            sha256 = sink.finish()
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    return GeneratedPdf(path, sink.position, sha256, plan.pages)


def _plan(target_bytes: int, seed: str, page_bytes: int) -> _Plan:
    pages = plan_pages(target_bytes, page_bytes)
    file_id = hashlib.sha256(f"{seed}:{target_bytes}:{page_bytes}".encode()).hexdigest()[:32]
    empty = _Plan(seed, file_id, pages, rows=0, padding=0)
    counter = _Sink()
    _emit(counter, empty)
    rows, padding = divmod(target_bytes - counter.position - _MIN_PADDING, _IMAGE_WIDTH)
    if rows < pages:
        raise ValueError(
            f"{target_bytes} bytes cannot hold {pages} pages of at least one image row each: "
            f"the PDF structure alone takes {counter.position} bytes (page_bytes {page_bytes})"
        )
    return _Plan(seed, file_id, pages, rows, padding + _MIN_PADDING)


def _emit(sink: _Sink, plan: _Plan) -> None:
    offsets: list[int] = []

    def start_object(number: int) -> None:
        offsets.append(sink.position)
        sink.write(b"%d 0 obj\n" % number)

    sink.write(_HEADER)
    start_object(1)
    sink.write(_CATALOG + _OBJECT_END)
    start_object(2)
    kids = b" ".join(b"%d 0 R" % _page_object(index) for index in range(plan.pages))
    sink.write(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, plan.pages) + _OBJECT_END)
    start_object(3)
    sink.write(_FONT + _OBJECT_END)
    for index in range(plan.pages):
        number = _page_object(index)
        start_object(number)
        sink.write(_page_dictionary(number) + _OBJECT_END)
        content = _content(index, plan.padding if index == plan.pages - 1 else 0)
        start_object(number + 1)
        sink.write(b"<< /Length %s >>\nstream\n%s" % (_fixed(len(content)), content) + _STREAM_END)
        rows = plan.page_rows(index)
        start_object(number + 2)
        sink.write(_image_dictionary(rows) + b"\nstream\n")
        sink.write_noise(f"{plan.seed}:{index}", rows * _IMAGE_WIDTH)
        sink.write(_STREAM_END)
    xref_offset = sink.position
    sink.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    for offset in offsets:
        sink.write(b"%010d 00000 n \n" % offset)
    startxref = b"%d" % xref_offset
    sink.write(
        b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>]%s >>\nstartxref\n%s\n%%%%EOF\n"
        % (
            len(offsets) + 1,
            plan.file_id.encode(),
            plan.file_id.encode(),
            b" " * (_NUMBER_WIDTH - len(startxref)),
            startxref,
        )
    )


def _page_object(index: int) -> int:
    return _FIRST_PAGE_OBJECT + _OBJECTS_PER_PAGE * index


def _fixed(value: int) -> bytes:
    return b"%-*d" % (_NUMBER_WIDTH, value)


def _page_dictionary(number: int) -> bytes:
    return (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 3 0 R >> /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
        % (_PAGE_WIDTH, _PAGE_HEIGHT, number + 2, number + 1)
    )


def _content(index: int, padding: int) -> bytes:
    drawing = b"q %d 0 0 %d 0 0 cm /Im0 Do Q\nBT /F1 36 Tf 72 720 Td (Page %d) Tj ET\n" % (
        _PAGE_WIDTH,
        _PAGE_HEIGHT,
        index + 1,
    )
    return drawing + (b"%" + b"." * (padding - _MIN_PADDING) + b"\n" if padding else b"")


def _image_dictionary(rows: int) -> bytes:
    return (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %s /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %s >>"
        % (_IMAGE_WIDTH, _fixed(rows), _fixed(rows * _IMAGE_WIDTH))
    )
