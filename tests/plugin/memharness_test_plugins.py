"""Strategies that misbehave on purpose, registered like a third-party package's would be."""

from __future__ import annotations

from typing import Any, ClassVar

from strategies.base import FetchContext, Fetched


class Raising:
    name: ClassVar[str] = "test-raising"
    description: ClassVar[str] = "raises before fetching anything"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        raise RuntimeError("boom from the test strategy\nsecond line is not recorded")


class Corrupting:
    name: ClassVar[str] = "test-corrupting"
    description: ClassVar[str] = "returns the object with one byte changed"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        data = bytearray(ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"].read())
        data[len(data) // 2] ^= 0xFF
        return Fetched(data=bytes(data))


class Littering:
    name: ClassVar[str] = "test-littering"
    description: ClassVar[str] = "downloads correctly but leaves a stray temp file behind"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        path = ctx.tmp_dir / "download.pdf"
        ctx.s3.download_file(ctx.bucket, ctx.key, str(path))
        (ctx.tmp_dir / "stray.tmp").write_bytes(b"x" * 1000)
        return Fetched(path=path)
