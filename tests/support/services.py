"""Waiting on real processes and servers, and cases planned against a launched backend."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memharness_s3.model.records import Case
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import fixture_ref

BUCKET = "memharness-tests"


PLUGIN_DIR = Path(__file__).parents[1] / "plugin"


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
