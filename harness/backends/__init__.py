"""Where the objects live: a server the harness launches (moto, s3rver, MinIO) or any endpoint.

moto is the default: one process serves S3 and Textract. s3rver streams objects from disk, for
GB-scale ranged strategies. MinIO is used when its binary is installed. All three go through
``launcher.LaunchedServer`` and differ only in their ``ServerSpec``. s3rver and MinIO serve S3
only, so a moto server is launched beside them for Textract (moto's Textract never reads the
object, so it does not need the data). ``endpoint`` is any S3-compatible URL or AWS itself, with
the standard credential chain and optionally a separate Textract endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from memharness_s3.errors import UsageError
from memharness_s3.s3.backends import minio, moto_server, s3rver
from memharness_s3.s3.backends.launcher import LaunchedServer, ServerSpec

LAUNCHED: dict[str, Callable[[], ServerSpec]] = {
    "moto": moto_server.spec,
    "s3rver": s3rver.spec,
    "minio": minio.spec,
}
"""Backends the harness runs itself; calling the function finds the executable (or fails)."""
BACKENDS = (*LAUNCHED, "endpoint")
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
    launched: LaunchedServer | None = field(default=None, compare=False, repr=False)
    """The S3 server the harness launched for this backend (restarted when it stops answering);
    None for an endpoint the harness only reaches."""

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
    name: str,
    endpoint_url: str | None,
    region: str | None,
    log_dir: Path,
    textract_endpoint_url: str | None = None,
) -> Iterator[Backend]:
    """Start (or just describe) the backend ``name``; stop whatever was started on exit.

    ``textract_endpoint_url``, when given, is where Textract calls go; otherwise a launched
    backend other than moto gets a moto server of its own for them.
    """
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    textract_url = _checked_url(textract_endpoint_url, "Textract endpoint URL")
    if name == "endpoint":
        url = _checked_url(endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), "endpoint URL")
        yield Backend(
            name="endpoint",
            endpoint_url=url,
            region=region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            service_endpoints=_textract(textract_url),
        )
        return
    spec = LAUNCHED[name]()
    with ExitStack() as servers:
        server = LaunchedServer(spec, log_dir / f"{name}-server.log")
        url = servers.enter_context(server)
        if textract_url is None and name != "moto":
            textract_log = log_dir / "textract-moto-server.log"
            textract_url = servers.enter_context(moto_server.MotoServer(textract_log))
        yield Backend(
            name=name,
            endpoint_url=url,
            region=region or DEFAULT_REGION,
            worker_env=dict(spec.credentials),
            service_endpoints=_textract(textract_url),
            launched=server,
        )


def check_backend_options(
    name: str, endpoint_url: str | None, textract_endpoint_url: str | None
) -> None:
    """Reject an unknown backend or a malformed URL before anything is started."""
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    _checked_url(textract_endpoint_url, "Textract endpoint URL")
    if name == "endpoint":
        _checked_url(endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), "endpoint URL")


def _checked_url(url: str | None, what: str) -> str | None:
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"{what} {safe_url(url)!r} must start with http:// or https://")
    return url


def _textract(url: str | None) -> dict[str, str]:
    return {"textract": url} if url else {}
