"""``read-all``: ``get_object()['Body'].read()``, the whole object in memory at once."""

from __future__ import annotations

from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched


class ReadAll:
    name: ClassVar[str] = "read-all"
    description: ClassVar[str] = "get_object()['Body'].read(): the whole object in memory"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        response = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)
        return Fetched(data=response["Body"].read(), details={"requests": 1})
