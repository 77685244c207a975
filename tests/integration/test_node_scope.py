"""A node-scoped cap on the local executor: all workers of a case in one cgroup (or under one
watchdog), as a container's processes are, and the node's memory measured for every run (issue
18 points 1 and 2), against a real moto server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.execution import caps
from memharness_s3.execution.local.runner import run_all
from memharness_s3.model.records import RunResult
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.views.table import render
from tests.support.services import planned

pytestmark = pytest.mark.integration

MiB = 2**20
CAP = 170 * 10**6
"""Above one read-all worker's peak on an 80 MiB object (about 58 MB idle + 84 MB) and above three
chunked workers of 1 MiB chunks together (about 40 MB charged each), below three workers while
one of them holds the object (3 x 40 + 84 MB)."""


def _runs(fixture: Fixture, scope: str) -> list[PlannedRun]:
    common: dict[str, Any] = {"concurrency": 3, "memory_limit_bytes": CAP, "memory_scope": scope}
    return [
        planned(fixture, "read-all", **common),
        planned(fixture, "chunked", params={"chunk_size": MiB}, **common),
    ]


def _check_killed(lines: list[RunResult]) -> None:
    killed = [r for r in lines if r.status == "oom"]
    assert killed, [(r.status, r.error) for r in lines]
    assert all(r.killed_pid is not None for r in killed)
    assert len({r.killed_pid for r in killed}) == len(killed)
    assert all(r.killed_pid is None for r in lines if r.status != "oom")


@pytest.mark.parametrize("enforcement", ["kernel", "watchdog"])
def test_a_node_cap_is_shared_by_the_cases_workers(
    enforcement: str,
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if enforcement == "watchdog":
        monkeypatch.setenv("MEMHARNESS_CAP", caps.WATCHDOG)
    elif caps.enforcement_available() == caps.WATCHDOG:
        pytest.skip("no writable memory cgroup on this machine")
    fixture = uploaded(80 * MiB)
    writer = ResultsWriter(tmp_path / "node")
    lines = run_all(_runs(fixture, "node"), moto_backend, writer, timeout_s=300)
    read_all = [r for r in lines if r.strategy == "read-all"]
    chunked = [r for r in lines if r.strategy == "chunked"]
    _check_killed(read_all)
    assert all(r.status == "ok" and r.verified for r in chunked), [r.error for r in chunked]
    expected = caps.WATCHDOG if enforcement == "watchdog" else caps.enforcement_available()
    assert {r.cap_enforcement for r in lines} == {f"{expected} per node"}
    assert {r.memory_scope for r in lines} == {"node"}
    assert "memory cap: 170 MB shared by the node (" in render(lines)
    for line in chunked:
        assert line.node_charged_peak_bytes is not None
        assert line.node_charged_peak_bytes <= CAP
        assert line.node_rss_sum_peak_bytes == line.aggregate_peak_rss_bytes
    if enforcement == "kernel":
        found = caps.find_cgroup_parent()
        assert found is not None
        assert {r.node_charged_source for r in lines} == {found[0].resident_source}
        # the cgroup was new: nothing was charged to it before the workers started
        assert {r.node_idle_bytes for r in lines} == {0}
        # pages the workers share (the interpreter's, the libraries') are charged once
        for line in chunked:
            assert line.node_charged_peak_bytes and line.node_rss_sum_peak_bytes
            assert line.node_charged_peak_bytes < line.node_rss_sum_peak_bytes

    # the same cap per worker: each read-all worker fits its own
    each = run_all(_runs(fixture, "worker"), moto_backend, ResultsWriter(tmp_path / "w"), 300)
    assert all(r.status == "ok" for r in each), [(r.status, r.error) for r in each]
    assert {r.memory_scope for r in each} == {"worker"}
    assert {r.cap_enforcement for r in each} == {expected}
    assert len({r.case_id for r in each} | {r.case_id for r in lines}) == 4
    assert len(lines) == len(each) == 6


def test_without_a_cgroup_the_node_is_the_sum_of_its_workers_pss(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    run = planned(uploaded(16 * MiB), "chunked", concurrency=2, memory_scope="node")
    lines = run_all([run], moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    assert all(r.status == "ok" for r in lines)
    first = lines[0]
    assert first.cap_enforcement is None and first.cgroup_peak_bytes is None
    assert {(r.node_charged_peak_bytes, r.node_charged_source) for r in lines} == {
        (first.node_charged_peak_bytes, "pss-sum")
    }
    assert first.node_charged_peak_bytes is not None and first.node_rss_sum_peak_bytes
    # each worker's share of the pages both map (the interpreter's files) counts half
    assert 0 < first.node_charged_peak_bytes < first.node_rss_sum_peak_bytes
    assert first.node_idle_bytes is None


@pytest.mark.usefixtures("test_plugins")
def test_the_environment_of_a_case_reaches_its_workers(
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_VALUE", "the harness's")
    fixture = uploaded(MiB)
    runs = [
        planned(fixture, "test-environment", env={"TEST_VALUE": "the case's"}),
        planned(fixture, "test-environment"),
    ]
    with_env, without = run_all(runs, moto_backend, ResultsWriter(tmp_path), timeout_s=120)
    assert (with_env.status, without.status) == ("ok", "ok")
    assert with_env.details["value"] == "the case's"
    assert without.details["value"] == "the harness's"
    assert with_env.env == {"TEST_VALUE": "the case's"} and without.env == {}
    assert with_env.case_id != without.case_id
