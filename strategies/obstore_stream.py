"""``obstore``: obstore's (Rust object_store's) streaming GET, written chunk by chunk to a file.

``GetResult.stream(min_chunk_size)`` gathers the body into chunks of at least ``chunk_size``
bytes (obstore's default is 10 MiB), so memory is bounded by about one chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched, MissingExtra
from memharness_s3.strategies.endpoint import CLIENTS_EXTRA, endpoint_of

try:
    import obstore
    from obstore.store import S3Store
except ImportError as exc:
    raise MissingExtra("obstore", "obstore", CLIENTS_EXTRA) from exc

MiB = 1024 * 1024


class ObstoreStream:
    name: ClassVar[str] = "obstore"
    description: ClassVar[str] = "obstore streaming GET in bounded chunks to a temp file"
    params: ClassVar[dict[str, Any]] = {"chunk_size": 8 * MiB}
    libraries: ClassVar[tuple[str, ...]] = ("obstore",)
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        where = endpoint_of(ctx.s3)
        config: dict[str, Any] = {"region": where.region}
        if where.url is not None:
            config.update(endpoint=where.url, virtual_hosted_style_request=False)
        if where.access_key is not None and where.secret_key is not None:
            config.update(access_key_id=where.access_key, secret_access_key=where.secret_key)
            if where.token:
                config["session_token"] = where.token
        store = S3Store(ctx.bucket, client_options={"allow_http": where.allow_http}, **config)
        path = ctx.tmp_dir / "download.pdf"
        result = obstore.get(store, ctx.key)
        chunks = 0
        with open(path, "wb") as out:
            for chunk in result.stream(min_chunk_size=int(ctx.params["chunk_size"])):
                out.write(chunk)
                chunks += 1
        return Fetched(path=path, details={"requests": 1, "chunks": chunks})
