"""The harness's own S3 calls (in the parent, never in a worker): buckets, uploads, lookups.

botocore's failures are turned into one line a user can act on; credentials never appear in them.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    EndpointConnectionError,
    FlexibleChecksumError,
    NoCredentialsError,
    ProfileNotFound,
)

from memharness_s3.errors import RunFailed
from memharness_s3.execution.phases import VERIFICATION, PhaseClock
from memharness_s3.model.checksums import CRC32_METADATA
from memharness_s3.model.records import ObjectRef
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.readback_ledger import ReadBackLedger

UPLOAD_CONFIG = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=64 * 2**20)
PDF_MAGIC = b"%PDF-"
READ_BACK_CHUNK_BYTES = 8 * 2**20


def make_client(backend: Backend) -> Any:
    """An S3 client for the harness itself, with the backend's fixed credentials if it has any."""
    try:
        session = boto3.session.Session(
            region_name=backend.region,
            aws_access_key_id=backend.worker_env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=backend.worker_env.get("AWS_SECRET_ACCESS_KEY"),
        )
    except ProfileNotFound as exc:  # AWS_PROFILE names a profile ~/.aws does not have
        raise RunFailed(str(exc)) from None
    return session.client(
        "s3",
        endpoint_url=backend.endpoint_url,
        config=Config(connect_timeout=5, read_timeout=120, retries={"max_attempts": 2}),
    )


@contextmanager
def s3_errors(backend: Backend, what: str) -> Iterator[None]:
    """Turn botocore failures inside the block into a one-line RunFailed about ``what``."""
    try:
        yield
    except EndpointConnectionError:
        raise RunFailed(f"{what}: cannot reach S3 endpoint {backend.display_url}") from None
    except NoCredentialsError:
        raise RunFailed(
            f"{what}: no AWS credentials found (environment, ~/.aws, or instance role)"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        operation = str(getattr(exc, "operation_name", "") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", code)
        if (code.isdigit() or not code.strip("?")) and not operation.startswith("Head"):
            # S3 answers every failed call but a HEAD with an error document; a bare status
            # (a 404 from a web server that is not S3) means something else is listening
            message = (
                f"{backend.display_url} does not answer like S3 ({operation} got HTTP {status} "
                "with no S3 error): is it an S3 endpoint?"
            )
        elif code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AccessDenied"):
            message = f"credentials were rejected by {backend.display_url} ({code})"
        elif code in ("NoSuchBucket", "404", "NoSuchKey", "NotFound"):
            message = "not found (404)"
        elif code.isdigit():
            message = (
                f"{backend.display_url} answered HTTP {code} without an S3 error: "
                "is it an S3 endpoint?"
            )
        else:
            message = f"{code}: {error.get('Message', 'no message')}"
        raise RunFailed(f"{what}: {message}") from None
    except BotoCoreError as exc:
        raise RunFailed(f"{what}: {type(exc).__name__}: {exc}") from None


def ensure_bucket(s3: Any, backend: Backend, bucket: str, create: bool) -> None:
    """Make sure ``bucket`` exists, creating it when ``create`` is set."""
    try:
        with s3_errors(backend, f"bucket {bucket!r}"):
            s3.head_bucket(Bucket=bucket)
        return
    except RunFailed as exc:
        if not create or "not found" not in str(exc):
            raise
    with s3_errors(backend, f"creating bucket {bucket!r}"):
        if backend.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": backend.region}
            )


def _holds(
    s3: Any, backend: Backend, bucket: str, key: str, size: int, sha256: str | None
) -> str | None:
    """The ETag of ``bucket/key`` when it exists with this size and the same ``sha256``
    metadata; None when it does not (missing, or other bytes)."""
    with s3_errors(backend, f"checking s3://{bucket}/{key}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            return None
    if head["ContentLength"] == size and head.get("Metadata", {}).get("sha256") == sha256:
        return str(head.get("ETag", ""))
    return None


def upload_fixture(s3: Any, backend: Backend, bucket: str, fixture: Fixture) -> bool:
    """Upload ``fixture`` (streamed, multipart) unless the same bytes are there; True if sent."""
    if _holds(s3, backend, bucket, fixture.object_key, fixture.size_bytes, fixture.sha256):
        return False
    _upload(s3, backend, fixture, bucket, fixture.object_key)
    return True


def _upload(s3: Any, backend: Backend, fixture: Fixture, bucket: str, key: str) -> None:
    with s3_errors(backend, f"uploading {fixture.path.name} to s3://{bucket}/{key}"):
        s3.upload_file(
            str(fixture.path),
            bucket,
            key,
            ExtraArgs={
                "ContentType": "application/pdf",
                "Metadata": _metadata(fixture),
            },
            Config=UPLOAD_CONFIG,
        )


def copy_object(s3: Any, backend: Backend, source: ObjectRef, target: ObjectRef) -> bool:
    """Make ``target`` a server-side copy of ``source`` unless it already holds the same bytes;
    True if it was copied.

    The copy asks for a CRC32 checksum of its own: moto (5.2) otherwise copies a multipart
    object's composite checksum onto the copy as if it were a whole-object one, and botocore,
    which validates response checksums by default, then rejects every GET of the copy. A server
    that refuses the checksum argument gets a plain copy; :func:`read_back` judges either.
    """
    if _holds(s3, backend, target.bucket, target.key, source.size_bytes, source.sha256):
        return False
    arguments = {
        "CopySource": {"Bucket": source.bucket, "Key": source.key},
        "Bucket": target.bucket,
        "Key": target.key,
        "MetadataDirective": "COPY",
    }
    with s3_errors(backend, f"copying to s3://{target.bucket}/{target.key}"):
        try:
            s3.copy_object(**arguments, ChecksumAlgorithm="CRC32")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _UNSUPPORTED_ARGUMENT:
                raise
            s3.copy_object(**arguments)
    return True


_UNSUPPORTED_ARGUMENT = ("InvalidArgument", "InvalidRequest", "NotImplemented", "400", "501")


def read_back(s3: Any, backend: Backend, ref: ObjectRef) -> str | None:
    """Why ``ref`` cannot be read the way a worker reads it, or None when it can.

    A HEAD with ``ChecksumMode=ENABLED`` and a whole GET through boto3 with its default response
    checksum validation, the body streamed through its CRC-32 (else sha256) in bounded memory;
    the size and (when known) the checksum must match. A backend that cannot be reached is a
    RunFailed, not a reason.
    """
    return _read_back(s3, backend, ref)[0]


def _read_back(s3: Any, backend: Backend, ref: ObjectRef) -> tuple[str | None, str | None]:
    """:func:`read_back`'s reason, and the ETag the HEAD gave (None if there was no HEAD)."""
    where = f"s3://{ref.bucket}/{ref.key}"
    digest, crc, size, etag = hashlib.sha256(), 0, 0, None
    with s3_errors(backend, f"reading back {where}"):
        try:
            head = s3.head_object(Bucket=ref.bucket, Key=ref.key, ChecksumMode="ENABLED")
            etag = str(head.get("ETag", ""))
            if head["ContentLength"] != ref.size_bytes:
                return f"HEAD says {head['ContentLength']} bytes, expected {ref.size_bytes}", etag
            body = s3.get_object(Bucket=ref.bucket, Key=ref.key)["Body"]
            while chunk := body.read(READ_BACK_CHUNK_BYTES):
                if ref.crc32 is not None:  # what workers check, at five times sha256's speed
                    crc = zlib.crc32(chunk, crc)
                else:
                    digest.update(chunk)
                size += len(chunk)
        except (FlexibleChecksumError, ChecksumError) as exc:
            return f"{type(exc).__name__}: {exc}", etag
    if size != ref.size_bytes:
        return f"GET returned {size} bytes, expected {ref.size_bytes}", etag
    if ref.crc32 is not None and crc != ref.crc32:
        return f"GET returned bytes whose CRC-32 is {crc}, expected {ref.crc32}", etag
    if ref.crc32 is None and ref.sha256 is not None and digest.hexdigest() != ref.sha256:
        return (
            f"GET returned bytes whose sha256 is {digest.hexdigest()}, expected {ref.sha256}",
            etag,
        )
    return None, etag


@dataclass
class Preparation:
    """What preparing objects cost: bytes uploaded, copied server-side and read back whole, and
    how many objects a read-back before vouched for (``readback_ledger``)."""

    uploaded_bytes: int = 0
    copied_bytes: int = 0
    read_back_bytes: int = 0
    vouched: int = 0

    def add(self, other: Preparation) -> None:
        self.uploaded_bytes += other.uploaded_bytes
        self.copied_bytes += other.copied_bytes
        self.read_back_bytes += other.read_back_bytes
        self.vouched += other.vouched


def prepare_fixture_objects(
    s3: Any,
    backend: Backend,
    fixture: Fixture,
    refs: list[ObjectRef],
    ledger: ReadBackLedger | None = None,
    clock: PhaseClock | None = None,
) -> Preparation:
    """Put ``fixture`` at ``refs[0]`` and its copies at ``refs[1:]``, each read back once.

    An object that cannot be read back is made again (the fixture uploaded once more, a copy
    uploaded from the fixture file instead of copied); if it still cannot be read, the run stops
    here, before anything is measured, naming the backend and the object.

    ``ledger``: the read-backs of a server's cached data directory; an object it vouches for
    (read back whole in an earlier session, its ETag and files unchanged since) is not read
    again, and every object read back now is recorded in it. ``clock``: times the read-backs
    as the ``verification`` phase.
    """
    done = Preparation()
    launched = backend.launched

    def verifying() -> AbstractContextManager[None]:
        return clock.phase(VERIFICATION) if clock is not None else nullcontext()

    for index, ref in enumerate(refs):
        if index == 0:
            etag = _holds(s3, backend, ref.bucket, ref.key, ref.size_bytes, ref.sha256)
            if etag is None:
                _upload(s3, backend, fixture, ref.bucket, ref.key)
                done.uploaded_bytes += ref.size_bytes
        else:
            etag = _holds(s3, backend, ref.bucket, ref.key, ref.size_bytes, ref.sha256)
            if etag is None and copy_object(s3, backend, refs[0], ref):
                done.copied_bytes += ref.size_bytes
        files = launched.stored_files(ref.bucket, ref.key) if launched is not None else None
        if ledger is not None and files is not None and ledger.vouches(ref, etag, files):
            done.vouched += 1
            continue
        with verifying():
            why, etag = _read_back(s3, backend, ref)
        done.read_back_bytes += ref.size_bytes
        if why is not None:
            if ledger is not None:
                ledger.forget(ref)
            _upload(s3, backend, fixture, ref.bucket, ref.key)
            done.uploaded_bytes += ref.size_bytes
            with verifying():
                why, etag = _read_back(s3, backend, ref)
            done.read_back_bytes += ref.size_bytes
            if why is not None:
                raise RunFailed(
                    f"backend {backend.name} at {backend.display_url}: s3://{ref.bucket}/"
                    f"{ref.key} cannot be read back as workers read it ({why}), even after "
                    "uploading it again"
                )
        if ledger is not None and files is not None:
            ledger.record(ref, etag, files)
    return done


def fixture_ref(bucket: str, fixture: Fixture) -> ObjectRef:
    return ObjectRef(
        bucket=bucket,
        key=fixture.object_key,
        size_bytes=fixture.size_bytes,
        sha256=fixture.sha256,
        pages=fixture.pages,
        fixture=fixture.name,
        crc32=fixture.crc32,
    )


def describe_object(s3: Any, backend: Backend, bucket: str, key: str) -> ObjectRef:
    """Look up a user's object; fail in one line if it is missing, empty or not a PDF.

    Its sha256 and page count come from its metadata when it has them (objects the harness
    uploaded do); otherwise only the byte count can be verified.
    """
    where = f"s3://{bucket}/{key}"
    with s3_errors(backend, where):
        head = s3.head_object(Bucket=bucket, Key=key)
    size = int(head["ContentLength"])
    if size == 0:
        raise RunFailed(f"{where} is empty (0 bytes): nothing to fetch")
    with s3_errors(backend, where):
        start = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-1023")["Body"].read()
    if PDF_MAGIC not in start:
        raise RunFailed(f"{where} is not a PDF (no %PDF- header in its first 1 KiB)")
    metadata = head.get("Metadata", {})
    pages = metadata.get("pages")
    crc32 = metadata.get(CRC32_METADATA)
    return ObjectRef(
        bucket=bucket,
        key=key,
        size_bytes=size,
        sha256=metadata.get("sha256"),
        pages=int(pages) if pages and pages.isdigit() else None,
        fixture=None,
        crc32=int(crc32) if crc32 and crc32.isdigit() and int(crc32) < 2**32 else None,
    )


def _metadata(fixture: Fixture) -> dict[str, str]:
    """What an uploaded fixture carries for :func:`describe_object` to find again."""
    metadata = {"sha256": fixture.sha256, "pages": str(fixture.pages)}
    if fixture.crc32 is not None:
        metadata[CRC32_METADATA] = str(fixture.crc32)
    return metadata
