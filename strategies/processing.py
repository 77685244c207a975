"""The processing step a worker runs on what it fetched, in the same measured process.

``none`` does nothing; ``pages`` opens the PDF with PyMuPDF and counts its pages (from the bytes
when the strategy returned bytes, from the file's path otherwise, as a real worker would);
``pages-bytes`` hands PyMuPDF a ``BytesIO`` of the PDF instead (read from the file when the
strategy wrote one), ``pages-mmap`` a read-only ``mmap`` of the file; ``text`` opens it as
``pages`` does and extracts every page's text (real page work), ``text-shrink`` the same with
``TOOLS.store_shrink(100)`` (empty MuPDF's object store) after each page; ``split`` splits it into
parts under a size limit and deletes the parts once written. PyMuPDF is imported inside the
functions because a worker with ``--process none`` does not load it at all; the worker imports
it before its baseline when a step needs it.

The variants are steps of their own, not parameters of ``pages``, so that each is its own case
in results, tables and the gate without a new setting.
"""

from __future__ import annotations

import io
import mmap
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memharness_s3.strategies.base import Fetched

PAGE_STEPS = ("pages", "pages-bytes", "pages-mmap")
TEXT_STEPS = ("text", "text-shrink")
PROCESS_STEPS = ("none", *PAGE_STEPS, *TEXT_STEPS, "split")
STORE_SHRINK_PERCENT = 100
DEFAULT_SPLIT_PART_BYTES = 100 * 1000 * 1000
TEXTRACT_MAX_PAGES = 3000


def modules_needed(step: str) -> list[str]:
    """Modules a worker must import up front to run ``step``."""
    return [] if step == "none" else ["pymupdf"]


def run_process_step(
    step: str, fetched: Fetched, tmp_dir: Path, params: dict[str, Any]
) -> dict[str, Any]:
    """Run ``step`` on ``fetched`` and return what it found (pages, parts)."""
    if step == "none":
        return {}
    source: Path | bytes
    if fetched.data is not None:
        source = fetched.data
    elif fetched.path is not None:
        source = fetched.path
    else:
        return {"skipped": "nothing was downloaded"}
    if step in PAGE_STEPS:
        return {"pages": count_pages(source, opened=step.removeprefix("pages").lstrip("-"))}
    if step in TEXT_STEPS:
        return extract_text(source, shrink=step == "text-shrink")
    if step == "split":
        from memharness_s3.strategies.pdf_split import split_pdf

        out_dir = tmp_dir / "split-parts"
        out_dir.mkdir()
        try:
            parts = split_pdf(
                source,
                out_dir,
                int(params.get("split_part_bytes", DEFAULT_SPLIT_PART_BYTES)),
                TEXTRACT_MAX_PAGES,
            )
            sizes = [p.stat().st_size for p in parts]
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        return {"parts": len(sizes), "largest_part_bytes": max(sizes)}
    raise ValueError(f"unknown process step {step!r}")


class DamagedPdf(ValueError):
    """MuPDF could only open the document by repairing it (a broken xref, a truncated file)."""


def count_pages(source: Path | bytes, opened: str = "") -> int:
    """Open the PDF with PyMuPDF and return its page count; raise DamagedPdf if it needed repair.

    ``opened``: "" (a path for a file, the bytes for bytes), "bytes" (a ``BytesIO``) or "mmap"
    (a read-only map of the file). MuPDF silently rebuilds a broken cross-reference table; a
    worker that counted pages of such a file would report a number nobody can trust, so a
    repaired document fails the run.
    """
    with _open_pdf(source, opened) as doc:
        return int(doc.page_count)


def extract_text(source: Path | bytes, shrink: bool) -> dict[str, Any]:
    """Extract every page's text; with ``shrink``, empty MuPDF's object store after each page
    (``TOOLS.store_shrink``), which otherwise keeps what the pages loaded until it is full."""
    import pymupdf

    characters = 0
    with _open_pdf(source, "") as doc:
        pages = int(doc.page_count)
        for page in doc:
            characters += len(page.get_text())
            if shrink:
                pymupdf.TOOLS.store_shrink(STORE_SHRINK_PERCENT)
    return {"pages": pages, "text_characters": characters}


@contextmanager
def _open_pdf(source: Path | bytes, opened: str) -> Iterator[Any]:
    import pymupdf

    mapped: mmap.mmap | None = None
    if opened == "mmap":
        if not isinstance(source, Path):
            raise ValueError("pages-mmap maps a file: the strategy returned bytes")
        with open(source, "rb") as file:
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        doc = pymupdf.open(stream=view, filetype="pdf")
    elif opened == "bytes":
        data = source.read_bytes() if isinstance(source, Path) else source
        doc = pymupdf.open(stream=io.BytesIO(data), filetype="pdf")
    elif isinstance(source, Path):
        doc = pymupdf.open(source)
    else:
        doc = pymupdf.open(stream=source, filetype="pdf")
    try:
        if doc.is_repaired:
            raise DamagedPdf(
                f"the PDF is damaged: MuPDF had to repair its cross-reference table "
                f"(it then counted {doc.page_count} pages)"
            )
        yield doc
    finally:
        doc.close()
        if mapped is not None:
            del doc
            view.release()
            mapped.close()
