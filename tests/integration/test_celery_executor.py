"""The Celery executor against real processes: redis-server from Debian's package, `memharness
worker` nodes running `celery worker` with the prefork pool, and moto's server on loopback.

Sizes are small enough for the default suite; the 250 MB fidelity check is the one large case.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from memharness_s3.config.settings import RunSettings
from memharness_s3.execution.celery.broker import launched_redis
from memharness_s3.execution.celery.executor import MAX_DELIVERIES, CeleryExecutor
from memharness_s3.execution.host_memory import reporting_active
from memharness_s3.execution.local.runner import sweep_stale_temp_dirs
from memharness_s3.execution.phases import HOST_MEMORY
from memharness_s3.execution.session import Session, Target
from memharness_s3.model.records import RunResult
from memharness_s3.paths import TEMP_PREFIX
from memharness_s3.results.loader import load
from memharness_s3.s3.backends import Backend
from memharness_s3.views.html.page import render_report
from memharness_s3.views.table import render
from tests.support.cli import MEMHARNESS
from tests.support.services import EVENT_BOUND_S, PLUGIN_DIR, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="needs Debian's redis-server (apt-get install redis-server; .ci/run installs it)",
    ),
]

MB = 10**6
MiB = 2**20


def _run(
    backend: Backend,
    cache_dir: Path,
    out: Path,
    broker: str | None = None,
    **settings: Any,
) -> list[RunResult]:
    sizes = settings.pop("sizes", [("16MB", 16 * MB)])
    run_settings = RunSettings(sizes=sizes, executor="celery", **settings)
    target = Target(seed="tests", cache_dir=cache_dir)
    return Session(run_settings, target, out, executor=CeleryExecutor(broker)).run(backend)


def _cost(result: RunResult) -> int:
    cost = result.strategy_cost_bytes
    assert cost is not None, result
    return cost


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _running(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` still running (a zombie has exited)."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
        except psutil.NoSuchProcess:
            continue
    return alive


def test_a_fresh_childs_first_task_costs_what_a_fresh_worker_process_does(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path
) -> None:
    """read-all, chunked and range at 250 MB: peak - baseline of each task in a fresh child
    (max_tasks_per_child=1) is the local executor's within max(5 %, 8 MiB)."""
    common: dict[str, Any] = {
        "sizes": [("250MB", 250 * MB)],
        "strategies": ["read-all", "chunked", "range"],
    }
    local = Session(
        RunSettings(**common), Target(seed="tests", cache_dir=cache_dir), tmp_path / "local"
    ).run(moto_backend)
    celery = _run(
        moto_backend,
        cache_dir,
        tmp_path / "celery",
        max_tasks_per_child=1,
        settle_host_memory=True,
        **common,
    )
    by_strategy = {r.strategy: r for r in local}
    for result in celery:
        assert result.status == "ok" and result.verified, result
        assert result.task_index == 0
        expected = _cost(by_strategy[result.strategy])
        allowed = max(0.05 * expected, 8 * MiB)
        assert abs(_cost(result) - expected) <= allowed, (
            result.strategy,
            _cost(result) / MB,
            expected / MB,
        )
    read_all = next(r for r in celery if r.strategy == "read-all")
    assert _cost(read_all) >= 250 * MB
    assert len({r.child_pid for r in celery}) == 3
    # On a VM with free page reporting the Celery runs waited before the second and third task
    # (each 250 MB task freed its memory); elsewhere nothing waits and no phase is recorded.
    meta = load(tmp_path / "celery").meta.raw
    active = reporting_active()
    assert meta["host_memory"] == {"free_page_reporting": active, "settled": active}
    assert (meta["phases"].get(HOST_MEMORY, 0) > 0) is active


def test_the_peak_is_reset_per_task_and_a_soak_shows_what_the_child_keeps(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path
) -> None:
    """One child: two read-all tasks of 64 MB, then two chunked ones. chunked reports its own
    cost, not read-all's; each line carries the child, its task count and what it kept."""
    results = _run(
        moto_backend,
        cache_dir,
        tmp_path / "out",
        sizes=[("64MB", 64 * MB)],
        strategies=["read-all", "chunked"],
        soak=2,
    )
    assert [r.strategy for r in results] == ["read-all", "read-all", "chunked", "chunked"]
    assert all(r.status == "ok" and r.verified for r in results)
    assert len({r.child_pid for r in results}) == 1
    assert [r.task_index for r in results] == [0, 1, 2, 3]
    assert all(r.executor_params == {"soak": 2} and r.deliveries == 1 for r in results)
    read_all, chunked = results[0], results[2]
    assert _cost(read_all) >= 64 * MB
    assert _cost(chunked) < _cost(read_all) / 2
    assert all(r.retained_rss_bytes and r.timeline_file for r in results)
    assert all((tmp_path / "out" / str(r.timeline_file)).is_file() for r in results)
    table = render(results)
    assert "kept MB" in table and "node1-" in table
    html = render_report(tmp_path / "out").read_text()
    assert "Retained RSS against task index (Celery)" in html
    assert '<th class="num">kept</th>' in html


def test_max_memory_per_child_recycles_the_child_and_the_task_that_caused_it_says_so(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path
) -> None:
    results = _run(
        moto_backend,
        cache_dir,
        tmp_path / "out",
        sizes=[("64MB", 64 * MB)],
        strategies=["read-all"],
        repeat=2,
        max_memory_per_child_bytes=100 * MiB,
    )
    first, second = results
    assert first.status == second.status == "ok"
    assert first.recycled is not None and "max_memory_per_child" in first.recycled
    assert second.child_pid != first.child_pid and second.task_index == 0


def test_a_child_killed_at_the_cap_is_an_oom_with_worker_lost_error_and_the_node_goes_on(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 200 MiB cap on the node; read-all of 160 MB does not fit (node + child + object),
    chunked does. acks_late without reject_on_worker_lost: delivered once, not redelivered.
    The node's children are replaced after the lost one as after any run (the first grow and
    shrink after a loss was seen to leave the child in place until the wait gave up)."""
    results = _run(
        moto_backend,
        cache_dir,
        tmp_path / "out",
        sizes=[("160MB", 160 * MB)],
        strategies=["read-all", "chunked"],
        memory_limit_bytes=200 * MiB,
        acks_late=True,
    )
    read_all, chunked = results
    assert read_all.status == "oom", read_all
    assert read_all.error_type == "WorkerLostError"
    assert read_all.deliveries == 1
    assert chunked.status == "ok" and chunked.verified
    assert chunked.cap_enforcement is not None and "per node" in chunked.cap_enforcement
    assert read_all.cap_enforcement == chunked.cap_enforcement
    assert read_all.child_pid is not None and read_all.node == chunked.node
    assert chunked.task_index == 0 and chunked.child_pid != read_all.child_pid
    assert "did not restart" not in capsys.readouterr().err


def test_a_redelivery_loop_is_bounded_and_a_time_limit_is_a_timeout(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path, test_plugins: None
) -> None:
    """acks_late + reject_on_worker_lost: a task whose child always dies is redelivered; the run
    revokes it after MAX_DELIVERIES starts and records how many there were. The time limit is
    well above the seconds billiard takes to notice a dead child (seen: 4.5 s; the run waits the
    limit plus 30 s for the MAX_DELIVERIES + 1 starts, room for a machine several times slower)
    and far below the sleeping task's 120 s."""
    results = _run(
        moto_backend,
        cache_dir,
        tmp_path / "out",
        sizes=[("1MB", MB)],
        strategies=["test-sigkilled", "test-sleeping", "chunked"],
        params={"test-sleeping": {"seconds": "120"}},
        acks_late=True,
        reject_on_worker_lost=True,
        timeout_s=30,
    )
    killed, sleeping, chunked = results
    assert killed.status == "error" and killed.error_type == "RedeliveryLoop", killed
    assert killed.deliveries is not None and killed.deliveries > MAX_DELIVERIES
    assert sleeping.status == "timeout" and sleeping.error_type == "TimeLimitExceeded", sleeping
    assert chunked.status == "ok"


def test_two_nodes_both_take_tasks_and_rows_name_their_node(
    moto_backend: Backend, cache_dir: Path, tmp_path: Path, broker: str
) -> None:
    """Two nodes on loopback (one child each): a case of 2 concurrent workers runs one task on
    each. The broker's password shows in no result, meta.json or log."""
    results = _run(
        moto_backend,
        cache_dir,
        tmp_path / "out",
        broker=broker,
        strategies=["chunked"],
        concurrency=[2],
        repeat=2,
        nodes=2,
    )
    assert all(r.status == "ok" for r in results)
    for group in {r.group_id for r in results}:
        assert len({r.node for r in results if r.group_id == group}) == 2
    password = broker.split(":")[2].split("@")[0]
    files = [path for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert any(path.name == "node1.log" for path in files)
    assert all(password not in path.read_text(errors="replace") for path in files)
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["executor"]["broker"].startswith("redis://:***@127.0.0.1:")


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[str]:
    with launched_redis(tmp_path / "redis.log") as (url, _pid):
        yield url


def _worker(url: str, tmp_path: Path, backend: Backend, *extra: str) -> subprocess.Popen[bytes]:
    """``memharness worker`` as a user starts it, the password on its command line."""
    argv = [
        *MEMHARNESS,
        "worker",
        "--broker",
        url,
        "--name",
        f"forged-{os.getpid()}@test",
        "--endpoint-url",
        str(backend.endpoint_url),
        *extra,
    ]
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        argv,
        env={**os.environ, **backend.worker_env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    from memharness_s3.execution.processes import stop_process_group

    stop_process_group(proc, grace_s=15)


def test_forged_tasks_are_rejected_and_recorded_and_the_worker_keeps_serving(
    moto_backend: Backend, broker: str, tmp_path: Path
) -> None:
    from memharness_s3.execution.celery.app import FETCH_TASK, make_app
    from memharness_s3.execution.celery.config import QUEUE

    node = _worker(broker, tmp_path, moto_backend)
    try:
        app = make_app(broker)

        def serving() -> None:
            assert node.poll() is None, (tmp_path / "worker.log").read_text()

        wait_until(lambda: bool(app.control.ping(timeout=1.0)), "the node answering", serving)
        password = broker.split(":")[2].split("@")[0]
        title = " ".join(psutil.Process(node.pid).cmdline())
        assert password not in title and "memharness worker" in title

        good_case = {"strategy": "chunked", "object_name": "x", "size_bytes": 1}
        good_object = {
            "bucket": "memharness-tests",
            "key": "missing.pdf",
            "size_bytes": 1,
            "sha256": None,
            "pages": None,
            "fixture": None,
        }
        forged = {
            "unknown strategy": {
                "run_id": "ab",
                "case": {**good_case, "strategy": "os.system"},
                "objects": [good_object],
            },
            "a path": {
                "run_id": "ab",
                "case": good_case,
                "objects": [good_object],
                "tmp_dir": "/etc",
            },
            "oversized": {
                "run_id": "ab",
                "case": good_case,
                "objects": [{**good_object, "key": "k" * 70_000}],
            },
        }
        for what, payload in forged.items():
            result = app.send_task(FETCH_TASK, args=[json.dumps(payload)], queue=QUEUE)
            report = result.get(timeout=EVENT_BOUND_S)
            assert report["error_type"] == "RejectedTask", (what, report)
        pickled = app.send_task(FETCH_TASK, args=["x"], queue=QUEUE, serializer="pickle")
        ordinary = app.send_task(
            FETCH_TASK,
            args=[json.dumps({"run_id": "cd", "case": good_case, "objects": [good_object]})],
            queue=QUEUE,
        )
        report = ordinary.get(timeout=EVENT_BOUND_S)
        assert report["error"] is None, report
        (fetch,) = report["fetches"]
        assert fetch["error_type"] in ("NoSuchKey", "ClientError"), fetch
        assert pickled.state == "PENDING"
        log = (tmp_path / "worker.log").read_text()
        assert log.count("rejected a task") == 3
        assert password not in log
        assert node.poll() is None
    finally:
        _stop(node)


def test_an_unreachable_broker_is_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *MEMHARNESS,
            "run",
            "--executor",
            "celery",
            "--broker",
            "redis://:secret@127.0.0.1:9/0",
            "--sizes",
            "1MB",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "unreachable" in proc.stderr
    assert "secret" not in proc.stderr and not (tmp_path / "out").exists()


def _coordinator(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    plugin = str(PLUGIN_DIR)
    env = {**os.environ, "PYTHONPATH": plugin + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [
            *MEMHARNESS,
            "run",
            "--executor",
            "celery",
            "--sizes",
            "1MB",
            "--strategies",
            "test-sleeping,chunked",
            "--param",
            "test-sleeping.seconds=600",
            "--param",
            f"test-sleeping.started_file={tmp_path / 'sleeping'}",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(tmp_path / "out"),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_task(coordinator: subprocess.Popen[str], tmp_path: Path) -> None:
    """Until a node's child is running the sleeping task (it writes the file as it starts)."""

    def coordinating() -> None:
        assert coordinator.poll() is None, coordinator.communicate()

    wait_until((tmp_path / "sleeping").exists, "the sleeping task starting", coordinating)


@pytest.mark.parametrize("lost", ["node", "broker", "coordinator"])
def test_losing_a_node_the_broker_or_the_coordinator_leaves_results_and_no_process(
    tmp_path: Path, lost: str
) -> None:
    """kill -9 of a node's supervisor, of the broker, or of the coordinating run itself: what
    was written stays, the affected run is recorded (node) and no process is left behind."""
    coordinator = _coordinator(tmp_path)
    started: list[psutil.Process] = []
    try:
        _wait_for_task(coordinator, tmp_path)
        started = _descendants(coordinator.pid)
        titles = " | ".join(" ".join(proc.cmdline()) for proc in started)
        assert "redis-server" in titles and "memharness worker" in titles, titles
        assert "ForkPoolWorker" in titles, titles
        if lost == "coordinator":
            coordinator.send_signal(signal.SIGKILL)
        else:
            name = "memharness worker" if lost == "node" else "redis-server"
            (victim,) = [
                proc
                for proc in psutil.Process(coordinator.pid).children()
                if name in " ".join(proc.cmdline())
            ]
            victim.send_signal(signal.SIGKILL)
        coordinator.wait(timeout=EVENT_BOUND_S)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        coordinator.wait()
    wait_until(
        lambda: not _running(started), lambda: f"processes outlived the run: {_running(started)}"
    )
    sweep_stale_temp_dirs()
    ours = {coordinator.pid} | {proc.pid for proc in started}
    left = [
        path
        for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*")
        if path.name[len(TEMP_PREFIX) :].split("-", 1)[0] in {str(pid) for pid in ours}
    ]
    assert left == [], left
    if lost == "coordinator":
        return
    assert coordinator.returncode == 1
    lines = [
        json.loads(line)
        for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    sleeping = [line for line in lines if line["strategy"] == "test-sleeping"]
    assert len(sleeping) == 1
    assert sleeping[0]["error_type"] == ("NodeLost" if lost == "node" else "BrokerLost")
