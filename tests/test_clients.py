"""The client strategies' non-default variants (``clients`` extra) fetch and verify a 100 MB
object on s3rver and moto.

Each backend is a real server process on loopback; each strategy variant runs once in a
measured worker, as ``memharness run`` would run it. Without the extra, every case is skipped
with the install hint the registry gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.config import registry
from memharness_s3.execution.local.runner import run_case
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend, open_backend
from memharness_s3.s3.fixture_cache import Fixture, ensure_fixture
from memharness_s3.s3.objects import ensure_bucket, make_client, upload_fixture
from tests.support.services import BUCKET, planned

pytestmark = pytest.mark.integration

SIZE = 100 * 10**6
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("crt", {"client": "boto3"}),
    ("crt", {"client": "awscrt"}),
    ("s3fs", {"mode": "open"}),
    ("iter-chunks", {"chunk_size": 1024 * 1024}),
    ("download-fileobj", {"target": "bytesio"}),
]
"""The variants other than each strategy's defaults, which the smoke matrix
(``test_smoke_matrix``) runs on both backends and both executors; crt's default stays for the
checks of which client ran."""


def _id(variant: tuple[str, dict[str, Any]]) -> str:
    name, params = variant
    return "-".join([name, *(str(value) for value in params.values())])


@pytest.fixture(scope="module", params=["s3rver", "moto"])
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    cache_dir: Path,
) -> Iterator[tuple[Backend, Fixture]]:
    """A server of each kind with the 100 MB fixture uploaded."""
    with open_backend(request.param, None, None, tmp_path_factory.mktemp(request.param)) as b:
        client = make_client(b)
        ensure_bucket(client, b, BUCKET, create=True)
        fixture = ensure_fixture("100MB", SIZE, "tests", cache_dir)
        upload_fixture(client, b, BUCKET, fixture)
        yield b, fixture


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_client_strategy_fetches_and_verifies_100mb(
    variant: tuple[str, dict[str, Any]], served: tuple[Backend, Fixture], tmp_path: Path
) -> None:
    name, params = variant
    missing = registry.not_installed()
    if name in missing:
        pytest.skip(f"strategy {name!r} needs pip install '{missing[name]}'")
    backend, fixture = served
    (result,) = run_case(
        planned(fixture, name, params=params, backend=backend.name),
        backend,
        ResultsWriter(tmp_path),
        300,
    )
    assert result.status == "ok", result.error
    assert result.verified is True
    assert result.bytes_fetched == fixture.size_bytes
    assert result.temp_files_left == 0
    if name == "crt":
        assert result.details["client"] in ("crt", "classic", "awscrt")
        assert result.details["client"] != "classic" or "lock" in result.details["why"]


def test_boto3_crt_falls_back_to_classic_when_another_worker_holds_the_lock(
    served: tuple[Backend, Fixture], tmp_path: Path
) -> None:
    """Two workers of one case at once: boto3's host-wide CRT lock lets one of them use the CRT,
    the other runs the classic transfer manager, and each result says which."""
    if "crt" in registry.not_installed():
        pytest.skip(f"strategy 'crt' needs pip install '{registry.not_installed()['crt']}'")
    backend, fixture = served
    run = planned(fixture, "crt", params={"client": "boto3"}, backend=backend.name, concurrency=2)
    results = run_case(run, backend, ResultsWriter(tmp_path), 300)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert sorted(r.details["client"] for r in results) == ["classic", "crt"]
