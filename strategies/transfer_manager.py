"""``transfer-manager``: boto3's ``download_file`` with a configurable ``TransferConfig``."""

from __future__ import annotations

from typing import Any, ClassVar

from boto3.s3.transfer import TransferConfig

from memharness_s3.strategies.base import FetchContext, Fetched

MiB = 1024 * 1024


class TransferManagerDownload:
    name: ClassVar[str] = "transfer-manager"
    description: ClassVar[str] = (
        "boto3 download_file (s3transfer) with a configurable TransferConfig"
    )
    params: ClassVar[dict[str, Any]] = {
        "multipart_threshold": 8 * MiB,
        "multipart_chunksize": 8 * MiB,
        "max_concurrency": 10,
        "use_threads": True,
        "max_io_queue": 100,
        "io_chunksize": 256 * 1024,
    }

    def fetch(self, ctx: FetchContext) -> Fetched:
        config = TransferConfig(
            multipart_threshold=int(ctx.params["multipart_threshold"]),
            multipart_chunksize=int(ctx.params["multipart_chunksize"]),
            max_concurrency=int(ctx.params["max_concurrency"]),
            use_threads=bool(ctx.params["use_threads"]),
            max_io_queue=int(ctx.params["max_io_queue"]),
            io_chunksize=int(ctx.params["io_chunksize"]),
        )
        path = ctx.tmp_dir / "download.pdf"
        ctx.s3.download_file(ctx.bucket, ctx.key, str(path), Config=config)
        return Fetched(path=path)
