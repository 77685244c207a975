"""``smart-open``: ``smart_open.open("s3://...")`` read in chunks to a temp file.

smart_open is given the worker's boto3 client (its ``client`` transport parameter), so it goes
where ``ctx.s3`` goes. It reads the body through a buffer of ``buffer_size`` bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched, MissingExtra
from memharness_s3.strategies.endpoint import CLIENTS_EXTRA

try:
    import smart_open
except ImportError as exc:
    raise MissingExtra("smart-open", "smart_open", CLIENTS_EXTRA) from exc

MiB = 1024 * 1024


class SmartOpenRead:
    name: ClassVar[str] = "smart-open"
    description: ClassVar[str] = "smart_open.open('s3://...') read in chunks to a temp file"
    params: ClassVar[dict[str, Any]] = {"chunk_size": 8 * MiB, "buffer_size": 128 * 1024}
    libraries: ClassVar[tuple[str, ...]] = ("smart-open",)
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        chunk_size = int(ctx.params["chunk_size"])
        path = ctx.tmp_dir / "download.pdf"
        transport = {"client": ctx.s3, "buffer_size": int(ctx.params["buffer_size"])}
        chunks = 0
        with (
            smart_open.open(
                f"s3://{ctx.bucket}/{ctx.key}",
                "rb",
                compression="disable",
                transport_params=transport,
            ) as source,
            open(path, "wb") as out,
        ):
            while chunk := source.read(chunk_size):
                out.write(chunk)
                chunks += 1
        return Fetched(path=path, details={"chunks": chunks})
