"""Split a PDF into parts under a byte and page limit with PyMuPDF, one part in memory at a time.

PyMuPDF opens a file lazily (the xref, not the page contents), so the source is never loaded
whole when it is a file. Each part is built in a new in-memory document and saved, so the memory
a split costs is about one part's size: choose ``max_part_bytes`` with the worker's budget in mind.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

PART_FILL = 0.95
"""Aim parts at this fraction of the limit; a part that still comes out too big is halved."""


def split_pdf(
    source: Path | bytes, out_dir: Path, max_part_bytes: int, max_part_pages: int
) -> list[Path]:
    """Write parts ``part-0001.pdf``... to ``out_dir`` and return their paths in page order."""
    if isinstance(source, Path):
        src = pymupdf.open(source)
        source_bytes = source.stat().st_size
    else:
        src = pymupdf.open(stream=source, filetype="pdf")
        source_bytes = len(source)
    try:
        page_count = src.page_count
        if page_count == 0:
            raise ValueError("the PDF has no pages to split")
        average_page = source_bytes / page_count
        per_part = max(1, min(max_part_pages, int(max_part_bytes * PART_FILL // average_page)))
        parts: list[Path] = []
        start = 0
        while start < page_count:
            count = min(per_part, page_count - start)
            path = out_dir / f"part-{len(parts) + 1:04d}.pdf"
            while not _write_part(src, start, count, path, max_part_bytes):
                if count == 1:
                    path.unlink()
                    raise ValueError(
                        f"page {start + 1} alone is larger than the part limit of "
                        f"{max_part_bytes} bytes"
                    )
                count = max(1, count // 2)
            parts.append(path)
            start += count
        return parts
    finally:
        src.close()


def _write_part(src: pymupdf.Document, start: int, count: int, path: Path, limit: int) -> bool:
    part = pymupdf.open()
    try:
        part.insert_pdf(src, from_page=start, to_page=start + count - 1)
        part.save(path)
    finally:
        part.close()
        pymupdf.TOOLS.store_shrink(100)
    return path.stat().st_size <= limit
