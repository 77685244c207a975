"""Every prepared object is read back once, as workers read it, before anything is measured.

Against a real moto server process: a copy of an object uploaded in parts must be readable with
botocore's default response checksum validation; an object whose bytes are not what its size
and sha256 say is found and made again; one that cannot be made readable stops the run with one
line naming the backend and the object.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from memharness_s3.errors import RunFailed
from memharness_s3.plan.runs import object_copies
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture, ensure_fixture
from memharness_s3.s3.objects import (
    UPLOAD_CONFIG,
    copy_object,
    fixture_ref,
    make_client,
    prepare_fixture_objects,
    read_back,
    upload_fixture,
)
from tests.support.services import BUCKET

pytestmark = pytest.mark.integration

TWO_PARTS = UPLOAD_CONFIG.multipart_chunksize + 3 * 10**6


@pytest.fixture(scope="module")
def multipart_fixture(cache_dir: Path) -> Fixture:
    return ensure_fixture("two-parts", TWO_PARTS, "tests", cache_dir)


def test_copies_of_a_multipart_object_read_back_with_checksum_validation(
    moto_backend: Backend, multipart_fixture: Fixture
) -> None:
    s3 = make_client(moto_backend)
    refs = object_copies(fixture_ref(BUCKET, multipart_fixture), 3)
    upload_fixture(s3, moto_backend, BUCKET, multipart_fixture)
    for copy in refs[1:]:
        copy_object(s3, moto_backend, refs[0], copy)
    # Readable as copied, with nothing made again.
    assert [read_back(s3, moto_backend, ref) for ref in refs] == [None, None, None]
    # What a worker does: a whole GET, checksums validated by botocore's default.
    for ref in refs:
        body = s3.get_object(Bucket=ref.bucket, Key=ref.key)["Body"]
        received = 0
        while chunk := body.read(2**23):
            received += len(chunk)
        assert received == TWO_PARTS


def test_an_object_whose_bytes_are_wrong_is_found_and_made_again(
    moto_backend: Backend, multipart_fixture: Fixture
) -> None:
    s3 = make_client(moto_backend)
    base = fixture_ref(BUCKET, multipart_fixture)
    refs = [base, dataclasses.replace(base, key=f"{base.key}.wrong")]
    # The right size and the right sha256 metadata, but other bytes: the copy step trusts the
    # metadata and skips it; only reading it back shows it is wrong.
    s3.put_object(
        Bucket=BUCKET,
        Key=refs[1].key,
        Body=b"\0" * TWO_PARTS,
        Metadata={"sha256": multipart_fixture.sha256},
    )
    assert "CRC-32" in (read_back(s3, moto_backend, refs[1]) or "")
    assert prepare_fixture_objects(s3, moto_backend, multipart_fixture, refs).uploaded_bytes
    assert read_back(s3, moto_backend, refs[1]) is None


def test_an_object_that_stays_unreadable_stops_the_run_naming_it(
    moto_backend: Backend, multipart_fixture: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = make_client(moto_backend)
    refs = object_copies(fixture_ref(BUCKET, multipart_fixture), 2)
    monkeypatch.setattr(
        "memharness_s3.s3.objects._read_back",
        lambda s3, backend, ref: (
            "FlexibleChecksumError: checksum did not match" if ref.key.endswith("-1") else None,
            '"etag"',
        ),
    )
    with pytest.raises(RunFailed) as failed:
        prepare_fixture_objects(s3, moto_backend, multipart_fixture, refs)
    message = str(failed.value)
    assert "\n" not in message
    assert f"backend moto at {moto_backend.display_url}" in message
    assert f"s3://{BUCKET}/{refs[1].key}" in message
    assert "FlexibleChecksumError" in message
