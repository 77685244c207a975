"""GB-scale runs on a launched s3rver (disk-backed, streams ranges), under the seed's 512 MB cap.

The first test runs on every push (it is CI's GB-scale regression case); the rest are behind the
``large`` marker (``nox -s large`` or ``pytest -m large``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memharness_s3.config import registry
from memharness_s3.execution.local.runner import run_case
from memharness_s3.model.records import Case
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend, open_backend
from memharness_s3.s3.fixture_cache import Fixture, ensure_fixture
from memharness_s3.s3.objects import ensure_bucket, fixture_ref, make_client, upload_fixture

pytestmark = pytest.mark.integration

BUCKET = "memharness-gb"
CAP = 512 * 10**6
GiB = 1024**3


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with open_backend("s3rver", None, None, tmp_path_factory.mktemp("s3rver")) as backend:
        ensure_bucket(make_client(backend), backend, BUCKET, create=True)
        yield backend


@pytest.fixture(scope="module")
def big_fixture(s3rver: Backend, cache_dir: Path) -> Callable[[int], Fixture]:
    done: dict[int, Fixture] = {}

    def get(size: int) -> Fixture:
        if size not in done:
            fixture = ensure_fixture(f"{size}B", size, "gb-tests", cache_dir)
            upload_fixture(make_client(s3rver), s3rver, BUCKET, fixture)
            fixture.path.unlink()
            done[size] = fixture
        return done[size]

    return get


def _capped(fixture: Fixture, strategy: str) -> PlannedRun:
    case = Case(
        strategy=strategy,
        object_name=fixture.name,
        size_bytes=fixture.size_bytes,
        params=registry.resolve_params(registry.load(strategy), {}),
        memory_limit_bytes=CAP,
    )
    return PlannedRun.of(case, [fixture_ref(BUCKET, fixture)], "s3rver")


def test_2gib_chunked_fetch_under_a_512mb_cap_is_ok_and_verified(
    s3rver: Backend, big_fixture: Callable[[int], Fixture], tmp_path: Path
) -> None:
    fixture = big_fixture(2 * GiB)
    (result,) = run_case(_capped(fixture, "chunked"), s3rver, ResultsWriter(tmp_path), 900)
    assert result.status == "ok", result.error
    assert result.verified is True and result.bytes_fetched == 2 * GiB
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes < CAP
    assert result.temp_files_left == 0


@pytest.mark.large
@pytest.mark.parametrize("strategy", ["range", "transfer-manager"])
def test_streaming_strategies_fetch_2gib_under_a_512mb_cap(
    strategy: str, s3rver: Backend, big_fixture: Callable[[int], Fixture], tmp_path: Path
) -> None:
    (result,) = run_case(
        _capped(big_fixture(2 * GiB), strategy), s3rver, ResultsWriter(tmp_path), 1800
    )
    assert result.status == "ok", result.error
    assert result.verified is True


@pytest.mark.large
def test_read_all_of_750mb_under_a_512mb_cap_is_oom(
    s3rver: Backend, big_fixture: Callable[[int], Fixture], tmp_path: Path
) -> None:
    (result,) = run_case(
        _capped(big_fixture(750 * 10**6), "read-all"), s3rver, ResultsWriter(tmp_path), 900
    )
    assert result.status == "oom", result.error
