"""``download-fileobj``: boto3's ``download_fileobj`` into a non-seekable pipe or a ``BytesIO``.

``target = "pipe"``: the object goes into the write end of an ``os.pipe`` while a reader thread
drains the read end into a temp file, as a worker streaming to another process would. The pipe
is not seekable, so s3transfer must put the ranged parts back in order in memory (its
``DeferQueue``): what that costs when a part's body breaks and is retried is s3transfer PR 338.
``target = "bytesio"``: into a ``BytesIO`` whose ``getvalue()`` is returned as bytes.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar

from boto3.s3.transfer import TransferConfig

from memharness_s3.strategies.base import FetchContext, Fetched

MiB = 1024 * 1024
TARGETS = ("pipe", "bytesio")
PIPE_READ = 1 * MiB


class DownloadFileobj:
    name: ClassVar[str] = "download-fileobj"
    description: ClassVar[str] = (
        "boto3 download_fileobj into a non-seekable pipe drained to a file, or into a BytesIO"
    )
    params: ClassVar[dict[str, Any]] = {
        "target": "pipe",
        "multipart_chunksize": 8 * MiB,
        "max_concurrency": 10,
    }
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        target = str(ctx.params["target"])
        if target not in TARGETS:
            raise ValueError(f"download-fileobj.target must be one of {TARGETS}, got {target!r}")
        config = TransferConfig(
            multipart_threshold=int(ctx.params["multipart_chunksize"]),
            multipart_chunksize=int(ctx.params["multipart_chunksize"]),
            max_concurrency=int(ctx.params["max_concurrency"]),
        )
        if target == "bytesio":
            buffer = io.BytesIO()
            ctx.s3.download_fileobj(ctx.bucket, ctx.key, buffer, Config=config)
            return Fetched(data=buffer.getvalue(), details={"target": target})
        path = ctx.tmp_dir / "download.pdf"
        read_fd, write_fd = os.pipe()
        drained: list[BaseException] = []
        reader = threading.Thread(target=_drain, args=(read_fd, path, drained), daemon=True)
        reader.start()
        try:
            with open(write_fd, "wb", buffering=0) as pipe:
                ctx.s3.download_fileobj(ctx.bucket, ctx.key, pipe, Config=config)
        finally:
            reader.join()
        if drained:
            raise drained[0]
        return Fetched(path=path, details={"target": target})


def _drain(read_fd: int, path: Path, errors: list[BaseException]) -> None:
    """Copy the pipe into ``path`` until the writer closes it; keep any error for the caller."""
    try:
        with open(read_fd, "rb", buffering=0) as pipe, open(path, "wb") as out:
            shutil.copyfileobj(pipe, out, PIPE_READ)
    except BaseException as exc:  # re-raised in the fetching thread
        errors.append(exc)
