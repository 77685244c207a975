"""``s3fs``: fsspec's S3 filesystem, ``get`` to a file or ``open()`` and sized reads.

``mode = "get"``: ``S3FileSystem.get_file``. Recent s3fs releases download an object larger than
one block as ranged GETs of ``block_size`` bytes, ``max_concurrency`` at a time, each part read
whole into memory before it is written: with s3fs's defaults (50 MiB blocks, 10 at a time) that
is up to 500 MiB per file. ``mode = "open"``: ``S3FileSystem.open()`` read ``read_size`` bytes at
a time, through s3fs's read-ahead cache of ``block_size`` bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched, MissingExtra
from memharness_s3.strategies.endpoint import CLIENTS_EXTRA, endpoint_of

try:
    import s3fs
except ImportError as exc:
    raise MissingExtra("s3fs", "s3fs", CLIENTS_EXTRA) from exc

MiB = 1024 * 1024
MODES = ("get", "open")


class S3fsFetch:
    name: ClassVar[str] = "s3fs"
    description: ClassVar[str] = "s3fs get() to a file (concurrent ranged parts) or open() + reads"
    params: ClassVar[dict[str, Any]] = {
        "mode": "get",
        "block_size": 50 * MiB,
        "max_concurrency": 10,
        "read_size": 8 * MiB,
    }
    libraries: ClassVar[tuple[str, ...]] = ("s3fs", "aiobotocore")
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        mode = str(ctx.params["mode"])
        if mode not in MODES:
            raise ValueError(f"s3fs.mode must be one of {MODES}, got {mode!r}")
        where = endpoint_of(ctx.s3)
        block_size = int(ctx.params["block_size"])
        fs = s3fs.S3FileSystem(
            key=where.access_key,
            secret=where.secret_key,
            token=where.token,
            endpoint_url=where.url,
            client_kwargs={"region_name": where.region},
            config_kwargs={"s3": {"addressing_style": "path"}} if where.url else None,
            default_block_size=block_size,
            max_concurrency=int(ctx.params["max_concurrency"]),
            skip_instance_cache=True,
        )
        remote = f"{ctx.bucket}/{ctx.key}"
        path = ctx.tmp_dir / "download.pdf"
        if mode == "get":
            fs.get_file(remote, str(path))
            return Fetched(path=path, details={"mode": mode})
        read_size = int(ctx.params["read_size"])
        reads = 0
        with fs.open(remote, "rb", block_size=block_size) as source, open(path, "wb") as out:
            while chunk := source.read(read_size):
                out.write(chunk)
                reads += 1
        return Fetched(path=path, details={"mode": mode, "reads": reads})
