"""``textract-direct``: no download; Textract reads the object from S3 itself.

Textract's asynchronous API accepts PDFs up to 500 MB and 3,000 pages. Within those limits the
strategy starts one ``StartDocumentTextDetection`` job on the object and polls it. Above them it
takes the split path: stream the object to disk, split it with PyMuPDF into parts under the
limits, upload the parts, run one job per part, and delete the uploaded parts afterwards. The page
count comes from the object's ``pages`` metadata when it has one; otherwise only the size limit is
checked up front and Textract's own answer decides.

An endpoint with no Textract behind it (a plain S3 server such as s3rver or MinIO answers the
job's POST with 404 Not Found; a dead one refuses the connection) raises
:class:`TextractUnavailable`, whose one line says how to point Textract somewhere that serves it.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import ClientError, EndpointConnectionError

from memharness_s3.strategies.base import FetchContext, Fetched
from memharness_s3.strategies.pdf_split import split_pdf

MB = 1000 * 1000
START_OPERATION = "StartDocumentTextDetection"
TEXTRACT_HINT = (
    "give --textract-endpoint-url URL of a Textract service such as a moto server "
    "(without it, --backend moto serves Textract itself and --backend s3rver or minio start "
    "a moto server for it; --backend endpoint sends Textract calls to the S3 endpoint)"
)


class TextractUnavailable(Exception):
    """No Textract service answered at the endpoint the Textract client was given."""


class TextractDirect:
    name: ClassVar[str] = "textract-direct"
    description: ClassVar[str] = (
        "no download: Textract job on the S3 object; split and upload parts above 500 MB/3000 pages"
    )
    params: ClassVar[dict[str, Any]] = {
        "max_bytes": 500 * MB,
        "max_pages": 3000,
        "part_bytes": 100 * MB,
        "chunk_size": 8 * 1024 * 1024,
        "poll_interval_s": 0.5,
        "poll_timeout_s": 900.0,
    }

    def fetch(self, ctx: FetchContext) -> Fetched:
        textract = ctx.make_client("textract")
        head = ctx.s3.head_object(Bucket=ctx.bucket, Key=ctx.key)
        size = int(head["ContentLength"])
        pages = head.get("Metadata", {}).get("pages")
        over_pages = pages is not None and int(pages) > int(ctx.params["max_pages"])
        if size <= int(ctx.params["max_bytes"]) and not over_pages:
            job = _start_job(textract, ctx.bucket, ctx.key)
            reported = _wait_for_job(textract, job, ctx.params)
            return Fetched(details={"jobs": 1, "split": False, "textract_pages": reported})
        return self._split_path(ctx, textract)

    def _split_path(self, ctx: FetchContext, textract: Any) -> Fetched:
        download = ctx.tmp_dir / "download.pdf"
        body = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"]
        with open(download, "wb") as out:
            while chunk := body.read(int(ctx.params["chunk_size"])):
                out.write(chunk)
        parts_dir = ctx.tmp_dir / "parts"
        parts_dir.mkdir()
        parts = split_pdf(
            download,
            parts_dir,
            min(int(ctx.params["part_bytes"]), int(ctx.params["max_bytes"])),
            int(ctx.params["max_pages"]),
        )
        prefix = f"{ctx.key}.parts/{ctx.tmp_dir.name}"
        part_keys: list[str] = []
        try:
            for part in parts:
                part_key = f"{prefix}/{part.name}"
                ctx.s3.upload_file(str(part), ctx.bucket, part_key)
                part_keys.append(part_key)
                part.unlink()
            jobs = [_start_job(textract, ctx.bucket, key) for key in part_keys]
            reported = sum(_wait_for_job(textract, job, ctx.params) for job in jobs)
        finally:
            for key in part_keys:
                ctx.s3.delete_object(Bucket=ctx.bucket, Key=key)
        parts_dir.rmdir()
        return Fetched(
            path=download,
            details={"jobs": len(part_keys), "split": True, "textract_pages": reported},
        )


def _start_job(textract: Any, bucket: str, key: str) -> str:
    """Start a text-detection job on ``bucket/key``; TextractUnavailable if nothing serves it."""
    try:
        response = textract.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}}
        )
    except EndpointConnectionError as exc:
        raise TextractUnavailable(
            f"no Textract service answered at {_endpoint(textract)}: cannot connect "
            f"({START_OPERATION}); {TEXTRACT_HINT}"
        ) from exc
    except ClientError as exc:
        if not _not_found(exc):
            raise
        raise TextractUnavailable(
            f"no Textract service answered at {_endpoint(textract)}: {START_OPERATION} got "
            f"HTTP 404 Not Found, as a plain S3 server (s3rver, MinIO) answers; {TEXTRACT_HINT}"
        ) from exc
    return str(response["JobId"])


def _not_found(exc: ClientError) -> bool:
    """A 404 on the start call: no such route, so no Textract (Textract itself never 404s it)."""
    if exc.operation_name != START_OPERATION:
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = exc.response.get("Error", {}).get("Code")
    return status == 404 or code in ("404", "NotFound")


def _endpoint(client: Any) -> str:
    """The client's endpoint URL without any user:password, query or fragment."""
    url = getattr(getattr(client, "meta", None), "endpoint_url", None)
    if not isinstance(url, str) or not url:
        return "the Textract endpoint"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _wait_for_job(textract: Any, job_id: str, params: dict[str, Any]) -> int:
    """Poll until the job ends; return the page count Textract reports, raise if it failed."""
    deadline = time.monotonic() + float(params["poll_timeout_s"])
    while True:
        response = textract.get_document_text_detection(JobId=job_id, MaxResults=1)
        status = response["JobStatus"]
        if status in ("SUCCEEDED", "PARTIAL_SUCCESS"):
            pages = response.get("DocumentMetadata", {}).get("Pages", 0)
            if isinstance(pages, dict):  # moto 5.x nests it: {"Pages": {"Pages": n}}
                pages = pages.get("Pages", 0)
            return int(pages)
        if status == "FAILED":
            raise RuntimeError(
                f"Textract job {job_id} failed: {response.get('StatusMessage', 'no message')}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"Textract job {job_id} still {status} after polling timeout")
        time.sleep(float(params["poll_interval_s"]))
