"""``range``: sequential ranged GETs of ``part_size`` bytes, each part read whole, then written."""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched


class RangeGet:
    name: ClassVar[str] = "range"
    description: ClassVar[str] = "sequential ranged GETs (100 MiB parts default) written to a file"
    params: ClassVar[dict[str, Any]] = {"part_size": 100 * 1024 * 1024}

    def fetch(self, ctx: FetchContext) -> Fetched:
        part_size = int(ctx.params["part_size"])
        total = ctx.s3.head_object(Bucket=ctx.bucket, Key=ctx.key)["ContentLength"]
        path = ctx.tmp_dir / "download.pdf"
        requests = 0
        with open(path, "wb") as out:
            for start in range(0, total, part_size):
                end = min(start + part_size, total) - 1
                response = ctx.s3.get_object(
                    Bucket=ctx.bucket, Key=ctx.key, Range=f"bytes={start}-{end}"
                )
                out.write(response["Body"].read())
                requests += 1
        return Fetched(path=path, details={"requests": requests + 1, "parts": requests})
