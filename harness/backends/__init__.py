"""Where the objects live: a launched moto server, or any S3-compatible endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.errors import UsageError

BACKENDS = ("moto", "endpoint")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Backend:
    """A running S3 service: how to reach it and the environment a worker needs for it."""

    name: str
    endpoint_url: str | None
    region: str
    worker_env: dict[str, str] = field(default_factory=dict)
    """Extra environment for clients of this backend (a launched server's fixed credentials)."""
    service_endpoints: dict[str, str] = field(default_factory=dict)
    """Endpoints for other AWS services (e.g. ``textract``) when they differ from S3's."""

    @property
    def display_url(self) -> str:
        return safe_url(self.endpoint_url) if self.endpoint_url else "AWS default endpoint"


def safe_url(url: str) -> str:
    """The URL without any user:password part, fit to print or store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@contextmanager
def open_backend(
    name: str, endpoint_url: str | None, region: str | None, log_dir: Path
) -> Iterator[Backend]:
    """Start (or just describe) the backend ``name``; stop whatever was started on exit."""
    if name == "moto":
        from harness.backends.moto_server import MotoServer

        with MotoServer(log_dir / "moto-server.log") as server_url:
            yield Backend(
                name="moto",
                endpoint_url=server_url,
                region=region or DEFAULT_REGION,
                worker_env=MotoServer.CREDENTIALS,
            )
    elif name == "endpoint":
        url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise UsageError(f"endpoint URL {safe_url(url)!r} must start with http:// or https://")
        yield Backend(
            name="endpoint",
            endpoint_url=url,
            region=region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        )
    else:
        raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
