"""The coordinating side of ``memharness run --executor celery``.

It starts (or reaches) the broker and the nodes, sends each run of a case as Celery tasks (one
per worker of the case; ``soak`` runs in sequence), waits for them, and writes one result line
per task as each run ends, the same schema the local executor writes. Before each run it flushes
dirty pages (``sync``) as the local runner does; that reaches nodes on this machine only.
Celery's own outcomes become statuses: a child lost to SIGKILL under the cap is ``oom``
(``WorkerLostError``), a task time limit is ``timeout``, a task started more than
:data:`MAX_DELIVERIES` times (a redelivery loop under ``task_reject_on_worker_lost``) is revoked
and ``error`` (``RedeliveryLoop``), a node that dies with tasks in flight leaves them ``error``
(``NodeLost``). A lost broker ends the run: what was written stays, every process the run
started is stopped. With a backend guard (``backends.health``), the coordinator checks the
backend before each run and watches it while the tasks run: once it stops answering, the run's
tasks are revoked (their children killed), its lines labelled ``infra`` and the run sent once more
after the guard recovered the backend. A task's time limit is ``--timeout`` or the run's own,
scaled to its object's size and wire speed (``run_limit``). Around every run it asks the nodes
for their memory (``node_control``: the idle floor before, the peaks and the children killed in
tasks after), and before every run after the first it gives them fresh children, unless
``--soak`` keeps them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memharness_s3 import log
from memharness_s3.config.settings import RunSettings
from memharness_s3.config.sizes import format_size
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.execution import outcome
from memharness_s3.execution.celery.broker import REDIS_HINT, REDIS_SERVER, broker_errors, redact
from memharness_s3.execution.celery.config import BROKER_ENV
from memharness_s3.execution.celery.node_control import NodeControl
from memharness_s3.execution.host_memory import HostReporting
from memharness_s3.execution.local.runner import settle_page_cache
from memharness_s3.execution.node_memory import NodeFigures
from memharness_s3.execution.outcome import Outcome
from memharness_s3.execution.processes import spawn_logged, stop_process_group
from memharness_s3.execution.session import Execution
from memharness_s3.model.records import INFRA, FetchTask, RunResult, WorkerReport, report_from_dict
from memharness_s3.plan.run_limit import describe_limit, run_limit_s
from memharness_s3.plan.runs import PlannedRun
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.backends.health import RERUNS, BackendGuard, Problem, Watch
from memharness_s3.views.progress import Progress

_log = log.get("celery")

MAX_DELIVERIES = 3
"""A task started this many times and still not done is revoked: a redelivery loop, bounded."""
RESULT_GRACE_S = 30.0
"""Beyond the task time limit, how long to wait for a result (queueing, the broker)."""
NODE_START_TIMEOUT_S = 60.0
POLL_S = 0.05
NODES_DIR = "nodes"


@dataclass
class _Node:
    name: str
    proc: subprocess.Popen[bytes] | None
    """The node's supervisor when this run started it; None for a node already on the broker."""

    def lost(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None


@dataclass
class _Sent:
    run_id: str
    result: Any
    objects: list[Any]
    sent_at: float
    state: str = "PENDING"
    value: Any = None
    outcome: Outcome | None = None
    """Decided by the coordinator instead of a task's result."""
    ended_at: float = 0.0


class CeleryExecutor:
    """Runs planned runs as Celery tasks."""

    name = "celery"

    def __init__(self, broker_url: str | None = None) -> None:
        self.broker_url = broker_url

    def check(self, settings: RunSettings) -> None:
        """What can be refused before anything is created."""
        if settings.memray:
            raise UsageError(
                "memray is not run on Celery nodes: drop --memray or use --executor local"
            )
        if any(fault is not None for fault in settings.faults):
            raise UsageError(
                "faults are injected by the local executor only: drop --fault or use "
                "--executor local"
            )
        if settings.memory_limit_bytes and settings.nodes:
            from memharness_s3.execution.caps import WATCHDOG, enforcement_available

            if enforcement_available() == WATCHDOG:
                raise RunFailed(
                    "--memory-limit on Celery nodes needs a cgroup with the memory controller, "
                    "and none is writable here: cap the nodes another way and use --nodes 0"
                )
        if self.broker_url is None and settings.nodes == 0:
            raise UsageError("--nodes 0 uses nodes already attached to a broker: give --broker URL")
        try:
            import celery  # noqa: F401
        except ImportError:
            raise RunFailed(
                "--executor celery needs Celery: pip install 'memharness-s3[celery]'"
            ) from None
        if self.broker_url is None:
            if shutil.which(REDIS_SERVER) is None:
                raise RunFailed(REDIS_HINT)
        else:
            from memharness_s3.execution.celery.broker import (
                check_reachable,
                require_password_off_loopback,
            )

            require_password_off_loopback(self.broker_url)
            check_reachable(self.broker_url)

    def describe(self) -> dict[str, Any]:
        """What meta.json records of the executor (the broker without its password)."""
        return {"name": self.name, "broker": redact(self.broker_url) if self.broker_url else None}

    def execute(self, planned: Sequence[PlannedRun], execution: Execution) -> None:
        from memharness_s3.execution.celery.app import make_app
        from memharness_s3.execution.celery.broker import launched_redis
        from memharness_s3.execution.celery.deliveries import DeliveryCounter

        backend, writer, settings = execution.backend, execution.writer, execution.settings
        progress, guard = execution.progress, execution.guard
        logs = writer.out_dir / NODES_DIR
        logs.mkdir(exist_ok=True)
        progress.total = len(planned) * settings.tasks_per_run
        with ExitStack() as stack:
            url = self.broker_url
            if url is None:
                url, pid = stack.enter_context(launched_redis(logs / "redis-server.log"))
                progress.say(f"broker: redis-server (PID {pid}) at {redact(url)}")
            app = make_app(url)
            counter = stack.enter_context(DeliveryCounter(app))
            nodes = [
                _Node(name, proc)
                for name, proc in (
                    stack.enter_context(_launched_node(i, url, settings, backend, logs))
                    for i in range(settings.nodes)
                )
            ]
            nodes = _wait_for_nodes(app, nodes)
            progress.say(f"celery nodes: {', '.join(node.name for node in nodes)}")
            run = _Coordinator(
                app, counter, nodes, backend, writer, settings, progress, execution.host
            )
            for index, planned_run in enumerate(planned):
                if settings.isolation == "fresh" and index > 0:
                    run.control.fresh_children()
                for _ in range(settings.tasks_per_run):
                    for attempt in range(1 + RERUNS):
                        if guard is not None:
                            guard.before_run()
                        outage = run.run_once(planned_run, guard, attempt)
                        if guard is None or outage is None:
                            break
                        guard.recover(outage)


@contextlib.contextmanager
def _launched_node(
    index: int, broker_url: str, settings: RunSettings, backend: Backend, logs: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``memharness worker`` node on this machine, stopped (by its process group) after.

    The nodes share the largest concurrency of the run between them (2 nodes for 4 workers: 2
    children each), so a case's tasks run at once across the nodes.
    """
    name = f"node{index + 1}-{os.getpid()}@{socket.gethostname()}"
    argv = [
        sys.executable,
        "-m",
        "memharness_s3.cli",
        "worker",
        "--name",
        name,
        "--concurrency",
        str(-(-max(settings.concurrency) // settings.nodes)),
        "--region",
        backend.region,
    ]
    if backend.endpoint_url:
        argv += ["--endpoint-url", backend.endpoint_url]
    if "textract" in backend.service_endpoints:
        argv += ["--textract-endpoint-url", backend.service_endpoints["textract"]]
    argv += settings.node_argv()
    env = {**os.environ, **backend.worker_env, **settings.env, BROKER_ENV: broker_url}
    proc = spawn_logged(argv, logs / f"node{index + 1}.log", env)
    try:
        yield name, proc
    finally:
        stop_process_group(proc, grace_s=15.0)


def _wait_for_nodes(app: Any, nodes: list[_Node]) -> list[_Node]:
    """The nodes once each answers a ping; with none started, every node on the broker."""
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    wanted = {node.name for node in nodes}
    while time.monotonic() < deadline:
        for node in nodes:
            if node.lost():
                raise RunFailed(f"celery node {node.name} exited at start-up; see its log")
        replies = app.control.ping(destination=sorted(wanted) or None, timeout=1.0)
        answered = {name for reply in replies for name in reply}
        if wanted and wanted <= answered:
            return nodes
        if not wanted and answered:
            return [_Node(name, None) for name in sorted(answered)]
        time.sleep(0.2)
    if wanted:
        raise RunFailed(f"celery nodes did not answer within {NODE_START_TIMEOUT_S:g} s")
    raise RunFailed("no celery node answered on the broker: start memharness worker first")


class _Coordinator:
    """Sends one run of a case as tasks, waits, writes its results."""

    def __init__(
        self,
        app: Any,
        counter: Any,
        nodes: list[_Node],
        backend: Backend,
        writer: ResultsWriter,
        settings: RunSettings,
        progress: Progress,
        host: HostReporting,
    ) -> None:
        self.app, self.counter, self.nodes = app, counter, nodes
        self.host = host
        self.backend, self.writer, self.settings, self.progress = (
            backend,
            writer,
            settings,
            progress,
        )
        self.control = NodeControl(app, [node.name for node in nodes], progress)
        self.enforcement: dict[str, str | None] = {
            node.name: _launched_enforcement(settings) for node in nodes if node.proc is not None
        }
        """Each node's cap enforcement, for tasks that end without a report (a lost child):
        known for the nodes this run starts, learnt from their reports for the others."""

    def run_once(
        self, run: PlannedRun, guard: BackendGuard | None = None, attempt: int = 0
    ) -> Problem | None:
        """Send the run's tasks, wait, write their lines; the outage that broke it, if any."""
        from memharness_s3.execution.celery.app import FETCH_TASK
        from memharness_s3.execution.celery.config import QUEUE

        case = run.case
        limit_s = run_limit_s(case, run.wire_mb_s, self.settings.timeout_s)
        group_id, started_at = outcome.new_id(), outcome.now()
        start_state = settle_page_cache()
        self.host.before_run()
        self.control.ask("mark")
        sent = []
        try:
            for objects in run.per_worker:
                run_id = outcome.new_id()
                payload = json.dumps(asdict(FetchTask(run_id=run_id, case=case, objects=objects)))
                result = self.app.send_task(
                    FETCH_TASK, args=[payload], queue=QUEUE, time_limit=limit_s
                )
                sent.append(_Sent(run_id, result, objects, time.monotonic()))
        except broker_errors() as exc:
            _log.debug("sending a task failed", exc_info=True)
            raise RunFailed(f"broker lost: {_first_line(exc)}") from None
        watch = guard.watch() if guard is not None else None
        with watch if watch is not None else contextlib.nullcontext():
            broker_lost = self._wait(sent, limit_s, watch)
        common = outcome.RunCommon(
            run,
            self.backend.name,
            group_id,
            started_at,
            start_state,
            host_reported_bytes=self.host.reported_during_run(),
        )
        # The tasks have ended, and with them what they held (a child removes its temp dir).
        self.host.released(run.fetched_bytes)
        nodes = self.control.ask("peak") if not broker_lost else {}
        results = [self._result(common, index, task, nodes) for index, task in enumerate(sent)]
        outage = None
        if guard is not None and watch is not None and not broker_lost:
            outage = guard.label(results, watch, attempt)
        for result in results:
            self.writer.append(result)
            self.progress.result(result)
        if broker_lost:
            raise RunFailed(f"broker lost mid-run: {broker_lost}; every result so far is kept")
        return outage

    def _wait(self, sent: list[_Sent], limit_s: float, watch: Watch | None) -> str | None:
        """Wait until every task has an outcome (a task still running once ``watch`` saw the
        backend stop answering is revoked); the broker's error if it was lost."""
        deadline = time.monotonic() + limit_s + RESULT_GRACE_S
        pending = list(sent)
        while pending:
            for task in list(pending):
                try:
                    ready = task.result.ready()
                    if ready:
                        task.state, task.value = task.result.state, task.result.result
                except broker_errors() as exc:  # the result backend (the broker's Redis)
                    _log.debug("polling a task's state failed", exc_info=True)
                    message = _first_line(exc)
                    for lost in pending:
                        lost.outcome = Outcome("error", f"broker lost: {message}", "BrokerLost")
                        lost.ended_at = time.monotonic()
                    return message
                starts = self.counter.starts(task.result.id)
                if ready:
                    pending.remove(task)
                elif starts > MAX_DELIVERIES:
                    self.app.control.revoke(task.result.id)
                    task.outcome = Outcome(
                        "error",
                        f"started {starts} times: redelivered after each lost child "
                        "(task_reject_on_worker_lost); revoked",
                        "RedeliveryLoop",
                    )
                    pending.remove(task)
                elif (node := self._lost_node(task)) is not None:
                    task.outcome = Outcome(
                        "error", f"celery node {node} was lost mid-task", "NodeLost"
                    )
                    pending.remove(task)
                elif watch is not None and watch.failed.is_set():
                    self.app.control.revoke(task.result.id, terminate=True, signal="SIGKILL")
                    task.outcome = Outcome(
                        INFRA,
                        "revoked by the harness: the backend stopped answering",
                        "BackendUnresponsive",
                    )
                    pending.remove(task)
                elif time.monotonic() > deadline:
                    self.app.control.revoke(task.result.id, terminate=True, signal="SIGKILL")
                    limit = describe_limit(limit_s, self.settings.timeout_s)
                    task.outcome = Outcome(
                        "timeout",
                        f"no result within {limit} + {RESULT_GRACE_S:g} s",
                        "Timeout",
                    )
                    pending.remove(task)
                if task not in pending:
                    task.ended_at = time.monotonic()
            if pending:
                time.sleep(POLL_S)
        return None

    def _lost_node(self, task: _Sent) -> str | None:
        """The node the task was started on, if this run started it and it has died."""
        started_on = self.counter.last_node(task.result.id)
        for node in self.nodes:
            if node.lost() and (started_on is None or started_on == node.name):
                if started_on is None and any(not other.lost() for other in self.nodes):
                    continue
                return node.name
        return None

    def _result(
        self,
        common: outcome.RunCommon,
        index: int,
        task: _Sent,
        nodes: dict[str, dict[str, Any]],
    ) -> RunResult:
        limit = common.run.case.memory_limit_bytes
        report: WorkerReport | None = None
        if task.outcome is not None:
            ended = task.outcome
        elif task.state == "SUCCESS" and isinstance(task.value, dict):
            report = report_from_dict(task.value)
            ended = _report_outcome(report, limit)
        else:
            ended = _failure_outcome(task.value, limit)
        deliveries = self.counter.starts(task.result.id)
        node = (report.node if report else None) or self.counter.last_node(task.result.id)
        enforcement = self.enforcement.get(node or "")
        if report is not None:
            self.enforcement[str(report.node)] = enforcement = report.cap_enforcement
            deliveries = max(deliveries, 1)
        timeline = report.timeline if report is not None else []
        figures = nodes.get(node or "", {})
        lost = next(
            (
                answer["lost"][task.run_id]
                for answer in nodes.values()
                if task.run_id in answer.get("lost", {})
            ),
            None,
        )
        outside = outcome.Outside(
            run_id=task.run_id,
            object_key=task.objects[0].key,
            total_wall_s=(task.ended_at or time.monotonic()) - task.sent_at,
            cap_enforcement=enforcement,
            timeline=timeline,
            timeline_file=self.writer.write_timeline(task.run_id, timeline) if timeline else None,
            node=node,
            child_pid=lost,
            deliveries=deliveries,
            node_figures=NodeFigures(
                figures.get("charged_peak_bytes"),
                figures.get("charged_source"),
                figures.get("rss_sum_peak_bytes"),
                figures.get("idle_bytes"),
            ),
            killed_pid=lost,
        )
        return outcome.build_result(common, index, ended, report, outside)


def _launched_enforcement(settings: RunSettings) -> str | None:
    """How a node this run starts on this machine enforces the run's cap (as ``node`` does)."""
    if not settings.memory_limit_bytes:
        return None
    from memharness_s3.execution.caps import enforcement_available

    return f"{enforcement_available()} per node"


def _report_outcome(report: WorkerReport, case_limit: int | None) -> Outcome:
    """The report's own error first, then a node whose cap is not the case's, then a fetch's."""
    if report.error is None and report.memory_limit_bytes != case_limit:
        node_cap = format_size(report.memory_limit_bytes) if report.memory_limit_bytes else "no cap"
        case_cap = format_size(case_limit) if case_limit else "none"
        return Outcome(
            "error",
            f"node {report.node} runs with {node_cap}, the case asks for cap {case_cap}",
            "CapMismatch",
        )
    return outcome.reported_failure(report) or outcome.OK


def _failure_outcome(value: Any, limit: int | None) -> Outcome:
    """A task's exception (as Celery rebuilt it from JSON) as a status."""
    kind = type(value).__name__ if isinstance(value, BaseException) else "TaskFailed"
    message = _first_line(value) if value is not None else "no result"
    if kind == "WorkerLostError":
        killed = "SIGKILL" in message or "signal 9" in message
        if limit and killed:
            return Outcome(
                "oom",
                f"child killed by SIGKILL under the node's {format_size(limit)} cap: {message}",
                kind,
            )
        return Outcome("error", message, kind)
    if kind in ("TimeLimitExceeded", "SoftTimeLimitExceeded"):
        return Outcome("timeout", f"Celery task time limit: {message}", kind)
    return Outcome("error", message, kind)


def _first_line(value: Any) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__
