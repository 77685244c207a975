"""The processing step a worker runs on what it fetched, in the same measured process.

``none`` does nothing; ``pages`` opens the PDF with PyMuPDF and counts its pages (from the bytes
when the strategy returned bytes, from the file otherwise, as a real worker would); ``split``
splits it into parts under a size limit and deletes the parts once written. PyMuPDF is imported
inside the functions because a worker with ``--process none`` does not load it at all; the
worker imports it before its baseline when a step needs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from memharness_s3.strategies.base import Fetched

PROCESS_STEPS = ("none", "pages", "split")
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
    if step == "pages":
        return {"pages": count_pages(source)}
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


def count_pages(source: Path | bytes) -> int:
    """Open the PDF with PyMuPDF and return its page count; raise DamagedPdf if it needed repair.

    MuPDF silently rebuilds a broken cross-reference table; a worker that counted pages of such
    a file would report a number nobody can trust, so a repaired document fails the run.
    """
    import pymupdf

    if isinstance(source, Path):
        doc = pymupdf.open(source)
    else:
        doc = pymupdf.open(stream=source, filetype="pdf")
    try:
        pages = int(doc.page_count)
        if doc.is_repaired:
            raise DamagedPdf(
                f"the PDF is damaged: MuPDF had to repair its cross-reference table "
                f"(it then counted {pages} pages)"
            )
        return pages
    finally:
        doc.close()
