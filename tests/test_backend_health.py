"""Backend health: the probe, the watch, the classification of broken runs and what views make of
``infra``, on real loopback servers (one that answers, one that never accepts, one that is gone)."""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest

from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.decision import FAILED, FITS, decide
from memharness_s3.analysis.decision import NOT_MEASURED as CELL_NOT_MEASURED
from memharness_s3.analysis.gate import evaluate
from memharness_s3.analysis.reruns import settled
from memharness_s3.analysis.verdicts import NOT_MEASURED, judge
from memharness_s3.cli import main
from memharness_s3.config.settings import RunSettings
from memharness_s3.errors import RunFailed
from memharness_s3.execution.celery import executor as celery_executor
from memharness_s3.execution.local import runner
from memharness_s3.execution.local.runner import settle_page_cache
from memharness_s3.execution.procfs import work_done
from memharness_s3.execution.session import Session, Target
from memharness_s3.model.records import Case, RunResult
from memharness_s3.plan.run_limit import MIN_LIMIT_S, UNMEASURED_LIMIT_S, run_limit_s
from memharness_s3.plan.runs import completed_runs
from memharness_s3.s3.backends import DEFAULT_REGION, Backend, open_backend
from memharness_s3.s3.backends.health import DOWN, UNRESPONSIVE, BackendGuard, Watch, probe
from memharness_s3.s3.backends.launcher import free_port
from memharness_s3.s3.backends.moto_server import MotoServer
from memharness_s3.views.html.page import render_report
from memharness_s3.views.progress import Progress
from tests.support.results import CAP, MB, run
from tests.support.services import wait_until

SHORT_S = 0.3
"""The probe timeout in these tests: the unresponsive server never answers, so any will do."""


class _Head(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []
    """Request targets, as the server read them."""

    def do_HEAD(self) -> None:
        self.seen.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def answering() -> Iterator[Backend]:
    """An endpoint that answers every HEAD (404: the bucket does not matter, an answer does)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Head)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Backend("endpoint", f"http://127.0.0.1:{server.server_port}", DEFAULT_REGION)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture()
def wedged() -> Iterator[Backend]:
    """An endpoint that accepts connections (the kernel's backlog) and never answers: what a
    wedged server looks like from outside."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield Backend("endpoint", f"http://127.0.0.1:{listener.getsockname()[1]}", DEFAULT_REGION)


def _guard(backend: Backend, said: list[str] | None = None) -> BackendGuard:
    notes = said if said is not None else []
    return BackendGuard(backend, "bucket", lambda: None, notes.append, SHORT_S, SHORT_S)


def _failed_run(**fields: Any) -> RunResult:
    return run("chunked", 10 * MB, 70 * MB, status="error", error="ReadTimeoutError", **fields)


def test_probe_tells_answering_unresponsive_and_down(answering: Backend, wedged: Backend) -> None:
    assert probe(answering, "bucket", SHORT_S) is None
    unresponsive = probe(wedged, "bucket", SHORT_S)
    assert unresponsive is not None and unresponsive.kind == UNRESPONSIVE
    assert "did not answer HEAD /bucket" in unresponsive.detail
    gone = Backend("endpoint", f"http://127.0.0.1:{free_port()}", DEFAULT_REGION)
    down = probe(gone, "bucket", SHORT_S)
    assert down is not None and down.kind == DOWN


def test_an_endpoint_is_probed_through_the_proxy_the_environment_names(
    answering: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the workers' botocore reaches it: here the proxy is the only way to the endpoint."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", str(answering.endpoint_url))
    unreachable = Backend("endpoint", "http://s3.example.invalid:9", DEFAULT_REGION)
    assert probe(unreachable, "bucket", SHORT_S) is None
    assert _Head.seen[-1] == "http://s3.example.invalid:9/bucket"


def test_an_error_while_the_backend_answers_is_the_strategys(answering: Backend) -> None:
    guard = _guard(answering)
    results = [_failed_run()]
    with guard.watch() as watch:
        pass
    assert guard.label(results, watch, attempt=0) is None
    assert (results[0].status, results[0].error) == ("error", "ReadTimeoutError")


def test_an_error_while_the_backend_does_not_answer_is_infra(wedged: Backend) -> None:
    said: list[str] = []
    guard = _guard(wedged, said)
    results = [_failed_run(), run("chunked", 10 * MB, 70 * MB, worker=1)]
    with guard.watch() as watch:
        assert watch.failed.wait(timeout=60), "the watch never saw the backend fail"
    assert watch.problem is not None and watch.problem.kind == UNRESPONSIVE
    problem = guard.label(results, watch, attempt=0)
    assert problem is not None
    # Every line of the broken run: the worker that ended ok was part of the same run.
    assert [r.status for r in results] == ["infra", "infra"]
    assert {r.error_type for r in results} == {"BackendUnresponsive"}
    assert "it ended error: ReadTimeoutError" in (results[0].error or "")
    assert "the harness did not launch this endpoint" in (results[0].error or "")
    assert said and "labelled infra" in said[-1]


def test_a_run_that_ended_ok_is_never_relabelled(wedged: Backend) -> None:
    """Even when the backend stopped answering during it: the run finished, nothing broke."""
    guard = _guard(wedged)
    results = [run("chunked", 10 * MB, 70 * MB)]
    with guard.watch() as watch:
        assert watch.failed.wait(timeout=60), "the watch never saw the backend fail"
    assert guard.label(results, watch, attempt=0) is None
    assert results[0].status == "ok"


def test_an_error_after_the_run_while_the_backend_is_down_is_infra(wedged: Backend) -> None:
    """The watch saw nothing (the outage came at the end), but the backend fails the check made
    when the run ended with an error: the outage broke it."""
    guard = _guard(wedged)
    results = [_failed_run()]
    quiet = Watch(lambda: None, SHORT_S)
    problem = guard.label(results, quiet, attempt=1)
    assert problem is not None and results[0].status == "infra"


def test_an_endpoint_is_not_restarted(wedged: Backend) -> None:
    guard = _guard(wedged)
    problem = guard.check()
    assert problem is not None
    with pytest.raises(RunFailed, match="the harness did not launch it, so it is not restarted"):
        guard.recover(problem)


def test_views_never_count_infra_against_a_strategy() -> None:
    broken = [
        run("chunked", 10 * MB, None, status="infra", error="backend unresponsive; re-run"),
        run("chunked", 10 * MB, 70 * MB),
    ]
    only_infra = [run("range", 10 * MB, None, status="infra", error="backend unresponsive")]
    failed = [run("read-all", 10 * MB, CAP + MB, status="oom")]
    analysis = Analysis([*broken, *only_infra, *failed])
    verdicts = {case.key.strategy: judge(case, CAP, []) for case in analysis.cases}
    assert verdicts["chunked"].verdict == "ok" and not verdicts["chunked"].failed
    assert verdicts["range"].verdict == NOT_MEASURED and not verdicts["range"].failed
    assert verdicts["read-all"].failed
    column = decide(analysis, CAP).column(10 * MB, 1)
    assert column is not None
    cells = {cell.strategy: cell.verdict for cell in column.cells}
    assert cells == {"chunked": FITS, "range": CELL_NOT_MEASURED, "read-all": FAILED}


def test_the_gate_never_fails_a_case_for_its_infra_runs() -> None:
    broken = [
        run("chunked", 10 * MB, None, status="infra", error="backend unresponsive; re-run"),
        run("chunked", 10 * MB, 70 * MB),
    ]
    only_infra = [run("range", 10 * MB, None, status="infra", error="backend unresponsive")]
    verdict = evaluate([*broken, *only_infra], budget_bytes=CAP)
    assert verdict.passed
    outcomes = {case.strategy: case.outcome for case in verdict.cases}
    assert outcomes == {"chunked": "pass", "range": "not measured (backend unresponsive)"}
    assert any("1 line of runs the backend broke" in note for note in verdict.notes)


def test_a_rerun_settles_an_infra_run_and_resume_measures_it_again() -> None:
    rerun_ok = [run("chunked", 10 * MB, None, status="infra"), run("chunked", 10 * MB, 70 * MB)]
    never_rerun = [run("range", 10 * MB, None, status="infra")]
    assert [r.status for r in settled([*rerun_ok, *never_rerun])] == ["ok", "infra"]
    assert len(completed_runs(never_rerun)) == 0
    assert len(completed_runs(rerun_ok)) == 1


def test_the_default_run_limit_scales_with_size_and_wire_speed() -> None:
    small = Case("chunked", "10MB", 10 * MB)
    large = Case("chunked", "2GB", 2000 * MB, concurrency=4)
    assert run_limit_s(large, 500.0, 60.0) == 60.0  # --timeout is the user's, whatever the size
    assert run_limit_s(small, 500.0, None) == MIN_LIMIT_S
    assert run_limit_s(large, 100.0, None) == 30 * 2000 * 4 / 100
    assert run_limit_s(large, 200.0, None) < run_limit_s(large, 100.0, None)
    assert run_limit_s(large, None, None) == UNMEASURED_LIMIT_S


class _Wedge:
    """Stands in for ``settle_page_cache``, which a runner calls just before it starts a run's
    workers (after the backend passed the check before the run): at call number ``at_run``
    (0-based) it stops the server's process group with SIGSTOP, so that run's workers meet a
    server that accepts connections and never answers, as a wedged one does."""

    def __init__(self, pid: Callable[[], int | None], at_run: int = 0) -> None:
        self.pid = pid
        self.at_run = at_run
        self.calls = 0
        self.wedged = threading.Event()

    def __call__(self) -> dict[str, int]:
        pid = self.pid()
        if self.calls == self.at_run and pid is not None:
            os.killpg(pid, signal.SIGSTOP)
            self.wedged.set()
        self.calls += 1
        return settle_page_cache()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("backend_name", "executor"),
    [
        ("s3rver", "local"),
        ("moto", "local"),
        pytest.param(
            "s3rver",
            "celery",
            marks=pytest.mark.skipif(
                shutil.which("redis-server") is None, reason="needs Debian's redis-server"
            ),
        ),
    ],
)
def test_a_wedged_server_is_restarted_and_the_broken_run_rerun(
    backend_name: str,
    executor: str,
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server stops answering as the matrix's first run starts: the watch sees it, the run
    is labelled infra, the server restarted on its port (moto's objects prepared again, s3rver
    keeps its own) and the run re-run; the rest of the matrix runs; no view calls it failed."""
    settings = RunSettings(
        sizes=[("10MB", 10 * MB)],
        strategies=["read-all", "chunked", "range"],
        timeout_s=600,
        executor=executor,
    )
    target = Target(seed="tests", cache_dir=cache_dir)
    stream = io.StringIO()
    with open_backend(backend_name, None, None, tmp_path) as backend:
        server = backend.launched
        assert server is not None
        first_pid = server.pid
        wedge = _Wedge(lambda: server.pid)
        module = celery_executor if executor == "celery" else runner
        monkeypatch.setattr(module, "settle_page_cache", wedge)
        session = Session(settings, target, tmp_path / "out", progress=Progress(0, stream))
        results = session.run(backend)
        assert wedge.wedged.is_set()
        assert server.restarts == 1 and server.pid != first_pid
    said = stream.getvalue()
    assert f"restarting {server.spec.name} on the same port" in said
    assert ("preparing again" in said) == (backend_name == "moto")
    broken = [r for r in results if r.status == "infra"]
    assert [r.strategy for r in broken] == ["read-all"]
    assert broken[0].error_type == "BackendUnresponsive"
    assert "did not answer HEAD" in (broken[0].error or "") and "re-run" in (broken[0].error or "")
    # The broken run re-ran ok after it, and the rest of the matrix ran on the restarted server.
    assert [(r.strategy, r.status) for r in results[results.index(broken[0]) + 1 :]] == [
        ("read-all", "ok"),
        ("chunked", "ok"),
        ("range", "ok"),
    ]
    assert all(r.verified for r in results if r.status == "ok")
    column = decide(Analysis(results), CAP).column(10 * MB, 1)
    assert column is not None
    assert [cell.verdict for cell in column.cells] == [FITS, FITS, FITS]
    html = render_report(tmp_path / "out").read_text()
    assert "1 infra: backend unresponsive, re-run" in html


@pytest.mark.integration
def test_an_endpoint_that_stops_answering_stops_the_run_and_keeps_results(
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--backend endpoint``: the harness did not launch it, so it does not restart it; the run
    the outage broke is recorded infra, the one before it is kept, exit 1 with one line."""
    server = MotoServer(tmp_path / "moto.log")
    wedge = _Wedge(lambda: server.pid, at_run=1)
    monkeypatch.setattr(runner, "settle_page_cache", wedge)
    for name, value in MotoServer.CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with server as url:
        out = tmp_path / "out"
        status = main(
            [
                "run",
                "--backend",
                "endpoint",
                "--endpoint-url",
                url,
                "--sizes",
                "10MB",
                "--strategies",
                "read-all,chunked",
                "--seed",
                "tests",
                "--cache-dir",
                str(cache_dir),
                "--out",
                str(out),
            ]
        )
        assert wedge.wedged.is_set()
    err = capsys.readouterr().err
    assert status == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("memharness: backend endpoint at ") and "not restarted" in last
    assert "Traceback" not in err
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(line["strategy"], line["status"]) for line in lines] == [
        ("read-all", "ok"),
        ("chunked", "infra"),
    ]


class _FakeServer:
    """What the guard reads of a launched server: its name, whether it exited, its work."""

    class spec:
        name = "fake server"

    def __init__(self, work: Callable[[], int]) -> None:
        self.work = work

    def exit_status(self) -> int | None:
        return None

    def work_done(self) -> int | None:
        return self.work()


def test_a_launched_server_that_misses_probes_while_working_is_busy_not_wedged(
    wedged: Backend,
) -> None:
    counter = iter(range(10**6))
    busy = dataclasses.replace(wedged, launched=_FakeServer(lambda: next(counter)))  # type: ignore[arg-type]
    stuck = dataclasses.replace(wedged, launched=_FakeServer(lambda: 7))  # type: ignore[arg-type]
    assert _guard(busy).check() is None
    problem = _guard(stuck).check()
    assert problem is not None and problem.kind == UNRESPONSIVE
    with _guard(busy).watch() as watch:
        assert not watch.failed.wait(6 * SHORT_S)
    with _guard(stuck).watch() as watch:
        assert watch.failed.wait(60)


def test_work_done_grows_while_a_process_runs_and_not_while_it_is_stopped() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        start = work_done(spinner.pid)
        assert start is not None
        wait_until(lambda: (work_done(spinner.pid) or 0) > start, "the spinner to use CPU")
        os.kill(spinner.pid, signal.SIGSTOP)
        wait_until(
            lambda: psutil.Process(spinner.pid).status() == psutil.STATUS_STOPPED,
            "the spinner to stop",
        )
        stopped = work_done(spinner.pid)
        assert not threading.Event().wait(0.5)
        assert work_done(spinner.pid) == stopped
    finally:
        spinner.kill()
        spinner.wait()
    assert work_done(spinner.pid) is None
