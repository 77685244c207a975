"""``iter-chunks``: ``get_object()["Body"].iter_chunks(chunk_size)`` written to a temp file.

botocore's default chunk is 1 KiB: memory stays flat, but every chunk is a Python-level read,
so throughput is the trap, not memory. ``chunk_size`` sets another size.
"""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched

BOTOCORE_DEFAULT_CHUNK = 1024


class IterChunks:
    name: ClassVar[str] = "iter-chunks"
    description: ClassVar[str] = (
        "one GET, Body.iter_chunks() to a temp file (botocore's 1 KiB chunks by default)"
    )
    params: ClassVar[dict[str, Any]] = {"chunk_size": BOTOCORE_DEFAULT_CHUNK}
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        chunk_size = int(ctx.params["chunk_size"])
        path = ctx.tmp_dir / "download.pdf"
        body = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"]
        chunks = 0
        with open(path, "wb") as out:
            for chunk in body.iter_chunks(chunk_size):
                out.write(chunk)
                chunks += 1
        return Fetched(path=path, details={"requests": 1, "chunks": chunks})
