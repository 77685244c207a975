"""``range-concurrent``: N ranged GETs in flight, each part written in place with ``os.pwrite``.

An explicit alternative to TransferManager: the file is preallocated to the object's size, a
pool of ``concurrency`` threads each GETs one part at a time and writes it at its offset, so at
most ``concurrency`` parts are in memory whatever the object's size, and no part waits for
another (the file is seekable, nothing is reordered in memory).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched

MiB = 1024 * 1024


class RangeConcurrent:
    name: ClassVar[str] = "range-concurrent"
    description: ClassVar[str] = (
        "N ranged GETs in flight (memory bounded to N parts), parts written in place (pwrite)"
    )
    params: ClassVar[dict[str, Any]] = {"part_size": 8 * MiB, "concurrency": 4}
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        part_size = int(ctx.params["part_size"])
        size = int(ctx.s3.head_object(Bucket=ctx.bucket, Key=ctx.key)["ContentLength"])
        path = ctx.tmp_dir / "download.pdf"
        offsets = range(0, size, part_size)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)

            def fetch_part(offset: int) -> None:
                last = min(offset + part_size, size) - 1
                response = ctx.s3.get_object(
                    Bucket=ctx.bucket, Key=ctx.key, Range=f"bytes={offset}-{last}"
                )
                data = response["Body"].read()
                if len(data) != last - offset + 1:
                    raise OSError(f"part at {offset}: got {len(data)} of {last - offset + 1} bytes")
                view = memoryview(data)
                while view:
                    written = os.pwrite(fd, view, offset)
                    view, offset = view[written:], offset + written

            with ThreadPoolExecutor(max_workers=int(ctx.params["concurrency"])) as pool:
                list(pool.map(fetch_part, offsets))
        finally:
            os.close(fd)
        return Fetched(path=path, details={"requests": 1 + len(offsets), "parts": len(offsets)})
