"""Where a client other than the worker's boto3 client must go: endpoint, region, credentials.

Every strategy gets ``ctx.s3``, a boto3 client already pointed at the run's endpoint (the
backend's loopback server or the fault proxy in front of it). Clients that do not take a boto3
client (awscrt, obstore, s3fs) are configured from it, so they reach the same server with the
same credentials; a loopback server is plain HTTP and is addressed path-style.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

AWS_CREDENTIALS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
CLIENTS_EXTRA = "memharness-s3[clients]"
"""What a strategy whose library is missing asks the user to install."""


@dataclass(frozen=True)
class Endpoint:
    """The S3 endpoint of a boto3 client and the credentials it signs with."""

    url: str | None
    """None: AWS's own regional endpoint."""
    region: str
    access_key: str | None
    secret_key: str | None
    token: str | None

    @property
    def allow_http(self) -> bool:
        return self.url is not None and urlsplit(self.url).scheme == "http"

    def host_and_path(self, bucket: str, key: str) -> tuple[str, str]:
        """The Host header and request path of a GET: path-style on a custom endpoint (a
        loopback server has no per-bucket host names), virtual-hosted on AWS."""
        if self.url is None:
            return f"{bucket}.s3.{self.region}.amazonaws.com", f"/{_quote(key)}"
        parts = urlsplit(self.url)
        prefix = parts.path.rstrip("/")
        return parts.netloc, f"{prefix}/{bucket}/{_quote(key)}"


def endpoint_of(s3: Any) -> Endpoint:
    """The endpoint, region and credentials ``s3`` uses (the environment's when it has none)."""
    credentials = s3._request_signer._credentials
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    if frozen is not None:
        access, secret, token = frozen.access_key, frozen.secret_key, frozen.token
    else:
        access, secret, token = (os.environ.get(name) for name in AWS_CREDENTIALS_ENV)
    url = s3.meta.endpoint_url
    default_host = f"s3.{s3.meta.region_name}.amazonaws.com"
    if url is not None and urlsplit(url).hostname in (default_host, "s3.amazonaws.com"):
        url = None
    return Endpoint(url, s3.meta.region_name, access, secret, token)


def _quote(key: str) -> str:
    return quote(key, safe="/~")
