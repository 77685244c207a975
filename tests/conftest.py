"""Shared fixtures: a real moto server process on loopback and a private fixture cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.model.records import Case
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.s3.backends import DEFAULT_REGION, Backend
from memharness_s3.s3.backends.moto_server import MotoServer
from memharness_s3.s3.fixture_cache import Fixture, ensure_fixture
from memharness_s3.s3.objects import ensure_bucket, fixture_ref, make_client, upload_fixture

BUCKET = "memharness-tests"
PLUGIN_DIR = Path(__file__).parent / "plugin"


EVENT_BOUND_S = 180.0
"""How long a test waits for something that happens within seconds on an idle machine: an
upper bound for a hung test, never a measurement, so a loaded machine only makes tests slower."""


def wait_until(
    happened: Callable[[], object],
    what: str | Callable[[], str],
    alive: Callable[[], object] = lambda: None,
    bound_s: float = EVENT_BOUND_S,
) -> None:
    """Return once ``happened()`` is true; fail naming ``what`` (or what it returns then) after
    ``bound_s``.

    ``alive`` is called on every poll, to fail at once (with its own assertion) when the process
    that should make it happen is gone.
    """
    deadline = time.monotonic() + bound_s
    while not happened():
        alive()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what if isinstance(what, str) else what()}: not within {bound_s:g} s"
            )
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@contextmanager
def serving(argv: list[str], url: str, log: Path, **popen: Any) -> Iterator[str]:
    """Run a test server process until the block ends; yield ``url`` once it answers HTTP."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **popen)

    def running() -> None:
        assert proc.poll() is None, f"{argv[0]} exited at start-up; see {log}"

    try:
        wait_until(lambda: _answers(url), f"{url} answering", running)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CRT_LOCK_DIR = Path("/tmp/aws_crt_cross_process_lock")
"""Where awscrt keeps the host-wide lock boto3's CRT transfer client takes (the crt strategy)."""


@pytest.fixture(scope="session", autouse=True)
def no_crt_lock_left() -> Iterator[None]:
    """Remove awscrt's lock directory at the end if this session made it."""
    existed = CRT_LOCK_DIR.exists()
    yield
    if not existed:
        shutil.rmtree(CRT_LOCK_DIR, ignore_errors=True)


@pytest.fixture()
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty temp directory for this test and every process it starts (``TMPDIR``): what the
    harness leaves behind shows up here whatever temp directory the session itself has."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fixture cache for the whole session, removed at the end."""
    path = tmp_path_factory.mktemp("cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A moto server in its own process on 127.0.0.1, stopped when the session ends."""
    log = tmp_path_factory.mktemp("moto") / "moto-server.log"
    with MotoServer(log) as url:
        backend = Backend("moto", url, DEFAULT_REGION, MotoServer.CREDENTIALS)
        ensure_bucket(make_client(backend), backend, BUCKET, create=True)
        yield backend


@pytest.fixture(scope="session")
def uploaded(moto_backend: Backend, cache_dir: Path) -> Callable[[int], Fixture]:
    """Return a function that generates (cached) and uploads a fixture of a size."""
    client = make_client(moto_backend)
    done: dict[int, Fixture] = {}

    def get(size_bytes: int) -> Fixture:
        if size_bytes not in done:
            fixture = ensure_fixture(f"{size_bytes}B", size_bytes, "tests", cache_dir)
            upload_fixture(client, moto_backend, BUCKET, fixture)
            done[size_bytes] = fixture
        return done[size_bytes]

    return get


def planned(
    fixture: Fixture,
    strategy: str,
    process: str = "none",
    params: dict[str, object] | None = None,
    backend: str = "moto",
    **case_fields: object,
) -> PlannedRun:
    """A case for ``strategy`` on ``fixture`` with the strategy's default parameters, to run on
    ``backend`` (by name: part of its case id)."""
    from memharness_s3.config import registry

    resolved = registry.resolve_params(registry.load(strategy), {})
    resolved.update(params or {})
    case = Case(
        strategy=strategy,
        object_name=fixture.name,
        size_bytes=fixture.size_bytes,
        process=process,
        params=resolved,
        process_params={"split_part_bytes": 3_000_000},
        **case_fields,  # type: ignore[arg-type]
    )
    base = fixture_ref(BUCKET, fixture)
    return PlannedRun.of(case, [base] * case.concurrency, backend)


@pytest.fixture()
def test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the strategies in tests/plugin/ through a real entry point, as a package would.

    ``tests/plugin`` holds a module and a ``.dist-info`` with ``entry_points.txt``; putting it on
    sys.path (for this process) and PYTHONPATH (for workers) is exactly what installing a
    third-party package does.
    """
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(PLUGIN_DIR) + (os.pathsep + existing if existing else ""))
