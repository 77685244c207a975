"""``crt``: the AWS Common Runtime's S3 client, through boto3's transfer layer or awscrt itself.

``client = "boto3"``: what ``TransferConfig(preferred_transfer_client="crt")`` gives a boto3
user, s3transfer's ``CRTTransferManager`` over one CRT S3 client per process, guarded by the
host-wide CRT lock boto3 takes. When another process holds that lock (the other workers of a
prefork pool), boto3 silently uses its classic transfer manager instead; so does this strategy,
and ``details["client"]`` records which one ran. boto3 itself (up to 1.44 at least) builds its
CRT client for AWS's regional endpoint over TLS whatever the client's ``endpoint_url`` (boto3
issues 4839 and 4689), which would send a loopback run to AWS; so the strategy assembles the
same s3transfer parts boto3 assembles, with the worker client's endpoint and scheme.

``client = "awscrt"``: ``awscrt.s3.S3Client`` directly, with ``memory_limit`` (aws-c-s3 refuses
less than 1 GiB) and ``part_size``, the body written straight to a file by the CRT
(``recv_filepath``).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched, MissingExtra
from memharness_s3.strategies.endpoint import CLIENTS_EXTRA, Endpoint, endpoint_of

try:
    import awscrt.s3
    import botocore.session
    from awscrt.auth import AwsCredentialsProvider
    from awscrt.http import HttpHeaders, HttpRequest
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from s3transfer.crt import (
        BotocoreCRTCredentialsWrapper,
        BotocoreCRTRequestSerializer,
        CRTTransferManager,
        acquire_crt_s3_process_lock,
        create_s3_crt_client,
    )
except ImportError as exc:
    raise MissingExtra("crt", "awscrt", CLIENTS_EXTRA) from exc

MiB = 1024 * 1024
GiB = 1024 * MiB
CLIENTS = ("boto3", "awscrt")
BOTO3_LOCK_NAME = "boto3"
"""The name boto3 takes the host-wide CRT lock under (``boto3.crt.PROCESS_LOCK_NAME``)."""

_process_client: dict[tuple[str | None, str], tuple[Any, Any]] = {}
_process_client_lock = threading.Lock()


class Crt:
    name: ClassVar[str] = "crt"
    description: ClassVar[str] = (
        "AWS CRT S3 client: boto3's CRT transfer manager (falls back to classic when another "
        "process holds the CRT lock) or awscrt's S3Client with a memory limit"
    )
    params: ClassVar[dict[str, Any]] = {
        "client": "boto3",
        "part_size": 8 * MiB,
        "memory_limit": 1 * GiB,
    }
    libraries: ClassVar[tuple[str, ...]] = ("awscrt", "s3transfer")
    opt_in: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> Fetched:
        client = str(ctx.params["client"])
        if client not in CLIENTS:
            raise ValueError(f"crt.client must be one of {CLIENTS}, got {client!r}")
        if client == "awscrt":
            return _awscrt_download(ctx)
        return _boto3_download(ctx)


def _boto3_download(ctx: FetchContext) -> Fetched:
    part_size = int(ctx.params["part_size"])
    path = ctx.tmp_dir / "download.pdf"
    if acquire_crt_s3_process_lock(BOTO3_LOCK_NAME) is None:
        config = TransferConfig(multipart_chunksize=part_size)
        ctx.s3.download_file(ctx.bucket, ctx.key, str(path), Config=config)
        return Fetched(
            path=path,
            details={"client": "classic", "why": "another process holds the CRT lock"},
        )
    crt_client, serializer = _boto3_crt_parts(ctx.s3)
    config = TransferConfig(preferred_transfer_client="crt", multipart_chunksize=part_size)
    with CRTTransferManager(crt_client, serializer, config=config) as manager:
        manager.download(ctx.bucket, ctx.key, str(path)).result()
    return Fetched(path=path, details={"client": "crt"})


def _boto3_crt_parts(s3: Any) -> tuple[Any, Any]:
    """One CRT S3 client and request serializer per process and endpoint, as boto3 keeps one."""
    where = endpoint_of(s3)
    with _process_client_lock:
        key = (where.url, where.region)
        if key not in _process_client:
            credentials = BotocoreCRTCredentialsWrapper(s3._get_credentials())
            crt_client = create_s3_crt_client(
                where.region,
                crt_credentials_provider=credentials.to_crt_credentials_provider(),
                use_ssl=not where.allow_http,
            )
            client_kwargs: dict[str, Any] = {"region_name": where.region}
            if where.url is not None:
                client_kwargs.update(
                    endpoint_url=where.url, config=Config(s3={"addressing_style": "path"})
                )
            serializer = BotocoreCRTRequestSerializer(botocore.session.Session(), client_kwargs)
            _process_client[key] = (crt_client, serializer)
        return _process_client[key]


def _awscrt_download(ctx: FetchContext) -> Fetched:
    where = endpoint_of(ctx.s3)
    path = ctx.tmp_dir / "download.pdf"
    client = awscrt.s3.S3Client(
        region=where.region,
        tls_mode=(
            awscrt.s3.S3RequestTlsMode.DISABLED
            if where.allow_http
            else awscrt.s3.S3RequestTlsMode.ENABLED
        ),
        signing_config=awscrt.s3.create_default_s3_signing_config(
            region=where.region, credential_provider=_credentials(where)
        ),
        part_size=int(ctx.params["part_size"]),
        memory_limit=int(ctx.params["memory_limit"]),
    )
    host, request_path = where.host_and_path(ctx.bucket, ctx.key)
    request = HttpRequest(
        "GET", request_path, HttpHeaders([("host", host), ("content-length", "0")])
    )
    meta_request = client.make_request(
        type=awscrt.s3.S3RequestType.GET_OBJECT, request=request, recv_filepath=str(path)
    )
    meta_request.finished_future.result()
    return Fetched(
        path=path, details={"client": "awscrt", "memory_limit": int(ctx.params["memory_limit"])}
    )


def _credentials(where: Endpoint) -> Any:
    if where.access_key is None or where.secret_key is None:
        return AwsCredentialsProvider.new_default_chain()
    return AwsCredentialsProvider.new_static(where.access_key, where.secret_key, where.token)
