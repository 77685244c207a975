"""memharness as a pytest plugin (registered through the ``pytest11`` entry point).

Gives tests a ``memharness_run`` fixture that runs one case in isolated worker processes against
a session-wide S3 backend (a launched moto server unless ``--memharness-backend`` says otherwise)
and returns its results, and a ``peak_memory`` marker that fails a test when any run it measured
peaked above a limit::

    @pytest.mark.peak_memory(max="300MB")
    def test_chunked_stays_small(memharness_run):
        (result,) = memharness_run("chunked", size="250MB")
        assert result.status == "ok"

The marker is checked after the test body, so the failure names the run that broke the limit.
Everything heavy is imported inside the fixtures: a pytest session that does not use them pays
nothing for the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from memharness_s3.model.records import RunResult
    from memharness_s3.s3.backends import Backend

BUCKET = "memharness-pytest"
_RESULTS = pytest.StashKey[list["RunResult"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memharness", "memory measurements of S3 fetch strategies")
    group.addoption(
        "--memharness-backend",
        default="moto",
        help="backend for memharness_run: moto (default), s3rver, minio or endpoint",
    )
    group.addoption(
        "--memharness-endpoint-url", help="S3 endpoint for --memharness-backend endpoint"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "peak_memory(max): fail if a run measured through memharness_run peaked above max "
        "(a size such as 300MB)",
    )


@pytest.fixture(scope="session")
def memharness_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """The S3 backend the session's measured runs fetch from, with its bucket created."""
    from memharness_s3.s3.backends import open_backend
    from memharness_s3.s3.objects import ensure_bucket, make_client

    with open_backend(
        request.config.getoption("--memharness-backend"),
        request.config.getoption("--memharness-endpoint-url"),
        None,
        tmp_path_factory.mktemp("memharness-backend"),
    ) as backend:
        ensure_bucket(make_client(backend), backend, BUCKET, create=True)
        yield backend


@pytest.fixture()
def memharness_run(
    request: pytest.FixtureRequest, memharness_backend: Backend, tmp_path: Path
) -> Callable[..., list[RunResult]]:
    """Run a strategy on a generated PDF in fresh worker processes; return one result per worker.

    Arguments: ``strategy``, ``size`` (catalog name or size string, default ``10MB``),
    ``process`` (``none``), ``params`` (overrides as strings), ``concurrency`` (1), ``pool``,
    ``memory_limit`` (a size or None), ``timeout_s`` (300).
    """
    from memharness_s3.analysis.reruns import settled
    from memharness_s3.config.settings import RunSettings
    from memharness_s3.config.sizes import parse_size
    from memharness_s3.execution.session import Session, Target
    from memharness_s3.s3.fixture_cache import resolve_fixture_size

    recorded: list[RunResult] = []
    request.node.stash[_RESULTS] = recorded
    runs = 0

    def run(
        strategy: str,
        size: str = "10MB",
        process: str = "none",
        params: dict[str, str] | None = None,
        concurrency: int = 1,
        pool: str = "processes",
        memory_limit: str | None = None,
        timeout_s: float = 300.0,
    ) -> list[RunResult]:
        nonlocal runs
        runs += 1
        settings = RunSettings(
            sizes=[resolve_fixture_size(size)],
            strategies=[strategy],
            concurrency=[concurrency],
            pool=pool,
            memory_limit_bytes=parse_size(memory_limit) if memory_limit else None,
            process=process,
            timeout_s=timeout_s,
            backend=memharness_backend.name,
            params={strategy: dict(params or {})},
        )
        session = Session(settings, Target(bucket=BUCKET, seed="pytest"), tmp_path / f"run-{runs}")
        # A run the backend broke (infra) was re-run: the test sees the run that counts.
        results = settled(session.run(memharness_backend))
        recorded.extend(results)
        return results

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    outcome = yield
    marker = item.get_closest_marker("peak_memory")
    results = item.stash.get(_RESULTS, [])
    if marker is not None and results:
        from memharness_s3.config.sizes import format_size, parse_size

        limit = parse_size(str(marker.kwargs.get("max", marker.args[0] if marker.args else "")))
        over = [r for r in results if r.peak_rss_bytes is not None and r.peak_rss_bytes > limit]
        if over:
            worst = max(over, key=lambda r: r.peak_rss_bytes or 0)
            peak = format_size(worst.peak_rss_bytes or 0)
            pytest.fail(
                f"peak_memory(max={format_size(limit)}): {worst.strategy} on "
                f"{format_size(worst.size_bytes)} peaked at {peak}"
                f" (baseline {format_size(worst.baseline_rss_bytes or 0)})",
                pytrace=False,
            )
    return outcome
