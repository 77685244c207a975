"""The pages step's ways of opening the PDF and the text step, in measured workers on moto."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memharness_s3.execution.local.runner import run_case
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture
from tests.support.services import planned

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("strategy", "process"),
    [
        ("chunked", "pages-bytes"),
        ("read-all", "pages-bytes"),
        ("chunked", "pages-mmap"),
        ("chunked", "text"),
        ("read-all", "text-shrink"),
    ],
)
def test_every_way_of_opening_counts_the_manifest_pages(
    strategy: str,
    process: str,
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
) -> None:
    fixture = uploaded(10 * 10**6)
    run = planned(fixture, strategy, process=process)
    (result,) = run_case(run, moto_backend, ResultsWriter(tmp_path), 120)
    assert result.status == "ok", result.error
    assert result.pages == fixture.pages
    if process.startswith("text"):
        assert result.details["text_characters"] > result.pages


def test_mapping_needs_a_file(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    run = planned(uploaded(10 * 10**6), "read-all", process="pages-mmap")
    (result,) = run_case(run, moto_backend, ResultsWriter(tmp_path), 120)
    assert result.status == "error"
    assert result.error == "pages-mmap maps a file: the strategy returned bytes"
