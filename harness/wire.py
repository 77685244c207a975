"""The wire as the yardstick: how fast a plain GET of an object comes off this endpoint.

``python -m memharness_s3.s3.wire JOB.json`` runs in a process of its own (no harness, no sampler
beside it) and GETs each object of the job ``repeats`` times with nothing but ``http.client``:
SigV4-signed with botocore's signer when credentials are configured (the one thing borrowed from
the SDK, before the clock starts), the body read with ``readinto`` into one reused 1 MiB buffer,
so neither parsing nor allocation nor a disk is in the way. It prints one JSON object: per object
key, the MB/s (10^6 bytes per second, request sent to last byte) of every GET. The parent
flushes dirty pages before it starts.

A strategy's ``throughput_mb_s`` divided by the object's ``wire_mb_s`` is then how close the
strategy came to what the endpoint can serve, measured on the same machine in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

BUFFER_BYTES = 2**20
DEFAULT_REPEATS = 3
TIMEOUT_S = 600.0


def get_mb_s(endpoint_url: str | None, region: str, bucket: str, key: str) -> float:
    """One GET of ``bucket/key``: MB/s from sending the request to reading the last byte."""
    url = _object_url(endpoint_url, region, bucket, key)
    headers = _signed_headers(url, region)
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.netloc, timeout=TIMEOUT_S)
    buffer = bytearray(BUFFER_BYTES)
    try:
        started = time.perf_counter()
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise OSError(f"GET {key}: HTTP {response.status} {response.reason}")
        expected = int(response.getheader("Content-Length") or -1)
        total = 0
        while count := response.readinto(buffer):
            total += count
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if total != expected:
        raise OSError(f"GET {key}: read {total} bytes, Content-Length said {expected}")
    return total / 1e6 / elapsed


def _object_url(endpoint_url: str | None, region: str, bucket: str, key: str) -> str:
    base = endpoint_url or f"https://s3.{region}.amazonaws.com"
    return f"{base.rstrip('/')}/{bucket}/{quote(key, safe='/~')}"


def _signed_headers(url: str, region: str) -> dict[str, str]:
    """SigV4 headers for a GET of ``url`` (unsigned payload), or none without credentials."""
    import botocore.session
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        return {}
    request = AWSRequest(
        method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    )
    S3SigV4Auth(credentials, "s3", region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def measure(
    endpoint_url: str | None,
    region: str,
    bucket: str,
    keys: Sequence[str],
    env: Mapping[str, str],
    repeats: int = DEFAULT_REPEATS,
) -> dict[str, list[float]]:
    """Every GET's MB/s per key, measured in a process of its own after a ``sync``.

    Raises OSError (with the child's last line) when the endpoint does not serve the objects.
    """
    job = {"endpoint_url": endpoint_url, "region": region, "bucket": bucket, "keys": list(keys)}
    os.sync()
    done = subprocess.run(
        [sys.executable, "-m", "memharness_s3.s3.wire", json.dumps(job), str(repeats)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * repeats * max(1, len(keys)),
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise OSError(lines[-1] if lines else f"exit status {done.returncode}")
    found: dict[str, list[float]] = json.loads(done.stdout)
    return found


def median_mb_s(samples: Sequence[float]) -> float | None:
    return round(statistics.median(samples), 1) if samples else None


def main(argv: Sequence[str]) -> int:
    job: dict[str, Any] = json.loads(argv[1])
    repeats = int(argv[2]) if len(argv) > 2 else DEFAULT_REPEATS
    speeds = {
        key: [
            round(get_mb_s(job["endpoint_url"], job["region"], job["bucket"], key), 1)
            for _ in range(repeats)
        ]
        for key in job["keys"]
    }
    print(json.dumps(speeds))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as exc:
        print(f"{Path(sys.argv[0]).name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
