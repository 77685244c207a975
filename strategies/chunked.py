"""``chunked``: stream the body of one GET to a temp file, ``chunk_size`` bytes at a time."""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched


class Chunked:
    name: ClassVar[str] = "chunked"
    description: ClassVar[str] = "one GET, body streamed to a temp file in chunks (8 MiB default)"
    params: ClassVar[dict[str, Any]] = {"chunk_size": 8 * 1024 * 1024}

    def fetch(self, ctx: FetchContext) -> Fetched:
        chunk_size = int(ctx.params["chunk_size"])
        path = ctx.tmp_dir / "download.pdf"
        body = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"]
        chunks = 0
        with open(path, "wb") as out:
            while chunk := body.read(chunk_size):
                out.write(chunk)
                chunks += 1
        return Fetched(path=path, details={"requests": 1, "chunks": chunks})
