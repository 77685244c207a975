"""textract-direct against an endpoint with no Textract service behind it: one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from memharness_s3.strategies.base import FetchContext
from memharness_s3.strategies.textract_direct import TextractDirect, TextractUnavailable

ENDPOINT = "http://user:pw@127.0.0.1:9/"


def _textract_fetch(textract: Any, tmp_path: Path) -> None:
    """textract-direct's start path on a 10-byte object, with ``textract`` as its client."""

    class FakeS3:
        def head_object(self, **kwargs: Any) -> dict[str, Any]:
            return {"ContentLength": 10, "Metadata": {}}

    TextractDirect().fetch(
        FetchContext(
            s3=FakeS3(),
            bucket="bucket",
            key="doc.pdf",
            tmp_dir=tmp_path,
            params=dict(TextractDirect.params),
            make_client=lambda service: textract,
        )
    )


def _stubbed_textract() -> Any:
    return botocore.session.get_session().create_client(
        "textract",
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
    )


def test_textract_direct_on_a_plain_s3_endpoint_says_no_textract_answered(tmp_path: Path) -> None:
    textract = _stubbed_textract()
    with Stubber(textract) as stubber:
        stubber.add_client_error(
            "start_document_text_detection",
            service_error_code="404",
            service_message="Not Found",
            http_status_code=404,
        )
        with pytest.raises(TextractUnavailable) as caught:
            _textract_fetch(textract, tmp_path)
    message = str(caught.value)
    assert "\n" not in message  # the worker records the first line
    assert message.startswith(
        "no Textract service answered at http://127.0.0.1:9/: StartDocumentTextDetection got "
        "HTTP 404 Not Found, as a plain S3 server (s3rver, MinIO) answers; "
        "give --textract-endpoint-url URL of a Textract service"
    )
    assert "pw" not in message


def test_textract_direct_on_an_unreachable_endpoint_says_no_textract_answered(
    tmp_path: Path,
) -> None:
    class Unreachable:
        class meta:
            endpoint_url = "http://127.0.0.1:9"

        def start_document_text_detection(self, **kwargs: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url=self.meta.endpoint_url)

    with pytest.raises(
        TextractUnavailable,
        match=r"^no Textract service answered at "
        r"http://127\.0\.0\.1:9: cannot connect \(StartDocumentTextDetection\); "
        r"give --textract-endpoint-url URL",
    ):
        _textract_fetch(Unreachable(), tmp_path)


def test_textract_direct_passes_other_textract_errors_through(tmp_path: Path) -> None:
    textract = _stubbed_textract()
    with Stubber(textract) as stubber:
        stubber.add_client_error(
            "start_document_text_detection",
            service_error_code="InvalidS3ObjectException",
            service_message="Unable to get object metadata from S3.",
            http_status_code=400,
        )
        with pytest.raises(ClientError, match="InvalidS3ObjectException"):
            _textract_fetch(textract, tmp_path)
