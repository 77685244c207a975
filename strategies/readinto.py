"""``readinto``: one GET, the body read straight off the socket into one reused buffer.

``chunked`` asks botocore for ``chunk_size`` bytes at a time; each read allocates a new bytes
object (urllib3's ``readinto`` too: it reads into a temporary and copies), which the file write
then copies again. This strategy reads with ``readinto`` on the HTTP response underneath
botocore's ``StreamingBody`` (``http.client``, which fills the buffer from the socket), and
writes the filled part of the buffer with ``os.write``: one buffer for the whole object, one
copy per byte into the page cache. It counts the bytes against ``Content-Length`` itself, since
it reads past botocore's check (the harness verifies sha256 as for every strategy). Where the
response has no such attribute (another HTTP stack), it falls back to ``StreamingBody.readinto``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched


class ReadInto:
    name: ClassVar[str] = "readinto"
    description: ClassVar[str] = (
        "one GET, socket read into one reused buffer (8 MiB default), os.write to a temp file"
    )
    params: ClassVar[dict[str, Any]] = {"buffer_size": 8 * 1024 * 1024}

    def fetch(self, ctx: FetchContext) -> Fetched:
        buffer = bytearray(int(ctx.params["buffer_size"]))
        view = memoryview(buffer)
        path = ctx.tmp_dir / "download.pdf"
        response = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)
        body = response["Body"]
        source = getattr(getattr(body, "_raw_stream", None), "_fp", None) or body
        expected = int(response["ContentLength"])
        total = reads = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while count := source.readinto(buffer):
                written = 0
                while written < count:
                    written += os.write(fd, view[written:count])
                total += count
                reads += 1
        finally:
            os.close(fd)
            body.close()
        if total != expected:
            raise OSError(f"read {total} bytes, Content-Length said {expected}")
        return Fetched(path=path, details={"requests": 1, "reads": reads})
