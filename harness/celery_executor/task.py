"""What a prefork child runs for one task: check it, reset the peak, fetch, measure.

Per-task measurement in a long-lived child: at the task's start the child writes ``5`` to
``/proc/self/clear_refs``, which resets the kernel's high-water mark (``VmHWM``) to the current
RSS, and records its baseline; at the end ``VmHWM`` is the task's own peak, whatever earlier
tasks reached. The reset lowers ``ru_maxrss`` too (same counter), and that is what Celery's
``worker_max_memory_per_child`` is checked against after each task. The recycle decisions stay
Celery's own: without resets the check after task *j* sees the largest peak of tasks 1..*j*;
the first task whose peak passes the limit is the same either way, because a child that passed
it earlier was already replaced. The child's RSS after the task (its data dropped) is what it
keeps for the next task: ``retained_rss_bytes``.

The task takes one JSON string and rejects, before acting on it, anything but a strategy the
node has registered and objects to fetch: no code, no module path, no file path, nothing larger
than :data:`MAX_PAYLOAD_BYTES`. A rejected task is a result (``RejectedTask``) and a log line;
the child goes on serving.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import resource
import shutil
import tempfile
from dataclasses import asdict, fields
from functools import cache
from pathlib import Path
from typing import Any

from memharness_s3.config import registry
from memharness_s3.execution import worker
from memharness_s3.execution.celery.app import FETCH_TASK
from memharness_s3.execution.celery.config import node_config
from memharness_s3.execution.celery.sampler import SamplerClient
from memharness_s3.execution.procfs import current_rss, own_peak_rss
from memharness_s3.model.records import Case, FetchTask, ObjectRef, WorkerJob, WorkerReport
from memharness_s3.paths import count_files
from memharness_s3.strategies.processing import PROCESS_STEPS

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_OBJECTS = 64
RUN_ID = re.compile(r"[0-9a-f]{1,32}")
log = logging.getLogger("memharness.task")


class RejectedTask(Exception):
    """The task is not one this node runs."""


_tasks_run = 0
"""Tasks this child has run: the next task's ``task_index``."""


@cache
def node_strategies() -> dict[str, registry.Registered]:
    """The strategies registered on this node, read once per child (scanning every installed
    distribution's entry points per task would be work, and allocations, in every task)."""
    return registry.registered()


def register(app: Any) -> None:
    """Add the fetch task to ``app``."""

    def fetch(self: Any, payload: Any) -> dict[str, Any]:
        return run_task(payload, str(self.request.hostname or ""))

    app.task(name=FETCH_TASK, bind=True)(fetch)


def run_task(payload: Any, node: str) -> dict[str, Any]:
    """Run one task in this child and return its report as JSON-ready data."""
    global _tasks_run
    report = WorkerReport(node=node, child_pid=os.getpid(), task_index=_tasks_run)
    _tasks_run += 1
    config = node_config()
    report.memory_limit_bytes = config.memory_limit_bytes
    report.cap_enforcement = config.cap_enforcement
    try:
        task = parse_task(payload)
    except RejectedTask as exc:
        log.warning("rejected a task: %s", exc)
        report.error, report.error_type = f"rejected: {exc}", "RejectedTask"
        return asdict(report)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f"task-{task.run_id}-", dir=config.tmp_root))
    job = WorkerJob(
        case=task.case,
        strategy_target=node_strategies()[task.case.strategy].target,
        objects=task.objects,
        endpoint_url=config.endpoint_url,
        region=config.region,
        tmp_dir=str(tmp_dir),
        service_endpoints=config.service_endpoints,
    )
    try:
        _measure(job, report)
    finally:
        report.temp_files_left, report.temp_bytes_left = count_files(tmp_dir)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    gc.collect()
    report.retained_rss_bytes = current_rss()
    report.recycled = _recycle_reason(config.max_memory_per_child_kib)
    return asdict(report)


def _measure(job: WorkerJob, report: WorkerReport) -> None:
    sampler = SamplerClient()
    try:
        prepared = worker.prepare(job)
        gc.collect()
        reset_peak()
        report.baseline_rss_bytes = current_rss()
        sampler.begin()
        try:
            worker.fetch_all(prepared, job, report)
        finally:
            report.final_hwm_bytes = own_peak_rss()
            report.timeline = sampler.end()
    except Exception as exc:  # a failed task is a result, as in a worker process
        report.error, report.error_type = worker.describe(exc)


def reset_peak() -> None:
    """Reset this process's ``VmHWM`` (and so ``ru_maxrss``) to its current RSS."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _recycle_reason(max_memory_per_child_kib: int | None) -> str | None:
    """Why Celery will replace this child once the task is done, as billiard decides it."""
    if not max_memory_per_child_kib:
        return None
    used_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if used_kib <= max_memory_per_child_kib:
        return None
    return (
        f"max_memory_per_child: ru_maxrss {used_kib} KiB > {max_memory_per_child_kib} KiB "
        "after this task"
    )


def parse_task(payload: Any) -> FetchTask:
    """The task in ``payload`` if this node runs it; RejectedTask says why not."""
    if not isinstance(payload, str):
        raise RejectedTask(f"payload must be a JSON string, got {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise RejectedTask(f"payload of {len(payload)} bytes, over {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise RejectedTask(f"payload is not JSON: {exc}") from None
    _only(data, {"run_id", "case", "objects"}, "task")
    run_id = data["run_id"]
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise RejectedTask("run_id must be up to 32 hex digits")
    case = _case(data["case"])
    objects = data["objects"]
    if not isinstance(objects, list) or not 1 <= len(objects) <= MAX_OBJECTS:
        raise RejectedTask(f"objects must be a list of 1 to {MAX_OBJECTS} objects")
    return FetchTask(run_id=run_id, case=case, objects=[_object(item) for item in objects])


def _only(data: Any, allowed: set[str], what: str) -> None:
    if not isinstance(data, dict):
        raise RejectedTask(f"{what} must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RejectedTask(f"{what} has fields this node does not take: {', '.join(unknown)}")


def _case(data: Any) -> Case:
    _only(data, {f.name for f in fields(Case)}, "case")
    strategies = node_strategies()
    strategy = data.get("strategy")
    if strategy not in strategies:
        raise RejectedTask(f"strategy {strategy!r} is not registered on this node")
    try:
        strategy_cls = worker.load_strategy(strategies[strategy].target)
    except Exception as exc:  # a plugin's import error, or its missing extra
        raise RejectedTask(f"strategy {strategy!r} does not load on this node: {exc}") from None
    if data.get("process", "none") not in PROCESS_STEPS:
        raise RejectedTask(f"unknown process step {data.get('process')!r}")
    if data.get("memray") or data.get("fault"):
        raise RejectedTask("memray and faults are not run on Celery nodes")
    process_params = data.get("process_params", {})
    _only(process_params, {"split_part_bytes"}, "process_params")
    if not all(isinstance(v, int) and v > 0 for v in process_params.values()):
        raise RejectedTask("split_part_bytes must be a positive integer")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise RejectedTask("params must be a JSON object")
    try:
        resolved = registry.resolve_params(
            strategy_cls, {name: _as_text(value) for name, value in params.items()}
        )
    except Exception as exc:  # UsageError and whatever a plugin's parameters raise
        raise RejectedTask(f"params: {exc}") from None
    try:
        return Case(**{**data, "params": resolved})
    except TypeError as exc:
        raise RejectedTask(f"case: {exc}") from None


def _as_text(value: Any) -> str:
    """A parameter value as the command line would give it (``true``, ``8388608``)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _object(data: Any) -> ObjectRef:
    _only(data, {f.name for f in fields(ObjectRef)}, "object")
    bucket, key, size = data.get("bucket"), data.get("key"), data.get("size_bytes")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise RejectedTask("an object needs a bucket and a key")
    if not isinstance(size, int) or size < 0:
        raise RejectedTask("an object's size_bytes must be a whole number")
    try:
        return ObjectRef(**data)
    except TypeError as exc:
        raise RejectedTask(f"object: {exc}") from None
