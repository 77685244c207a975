"""A Celery worker node: ``memharness worker``, a supervisor around a real ``celery worker``.

The supervisor checks the broker, makes the node's private temp root, puts the node under its
memory cap (one cgroup for the whole node, main process and prefork children, as a container
caps a worker), starts its child sampler (``sampler``), then runs ``celery -A
memharness_s3.execution.celery.app worker`` with the prefork pool, exactly as users start
workers, and waits for it. ``--disable-prefetch`` makes the node take a task only when a
child is free, so a case's concurrent tasks spread over nodes instead of queueing in one.
SIGTERM or Ctrl-C stops Celery (warm shutdown, SIGKILL after a grace period), then the cgroup
and the temp root are removed. The broker URL reaches Celery through
the environment, and the supervisor's own process title is replaced, so a password in the URL
shows in no process list.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memharness_s3.config.settings import NODE_SETTINGS, RunSettings
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.execution import caps
from memharness_s3.execution.celery.broker import (
    check_reachable,
    redact,
    require_password_off_loopback,
)
from memharness_s3.execution.celery.config import (
    BROKER_ENV,
    CELERY_CONF_ENV,
    NODE_ENV,
    QUEUE,
    NodeConfig,
)
from memharness_s3.execution.celery.sampler import SOCKET_ENV, ChildSampler
from memharness_s3.execution.local.measure import DEFAULT_SAMPLE_INTERVAL_S
from memharness_s3.execution.processes import die_with_parent
from memharness_s3.paths import TEMP_PREFIX

STOP_GRACE_S = 15.0
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class NodeOptions:
    """How to run one node (``memharness worker``'s options)."""

    broker_url: str
    name: str = ""
    """Celery's node name (``-n``); default ``memharness-PID@HOST``."""
    concurrency: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    """The node settings given (``settings.NODE_SETTINGS``), by ``RunSettings`` field."""
    endpoint_url: str | None = None
    service_endpoints: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S
    log_file: Path | None = None

    @property
    def node_name(self) -> str:
        return self.name or f"memharness-{os.getpid()}@{socket.gethostname()}"

    def setting(self, name: str) -> Any:
        """A node setting (a ``RunSettings`` field), its default when not given."""
        if name in self.settings:
            return self.settings[name]
        return next(item.default for item in dataclasses.fields(RunSettings) if item.name == name)

    @property
    def memory_limit_bytes(self) -> int | None:
        limit: int | None = self.setting("memory_limit_bytes")
        return limit

    def celery_conf(self) -> dict[str, Any]:
        """The Celery settings the node settings set (``task_acks_late`` ...)."""
        return {s.celery_conf: self.setting(s.field) for s in NODE_SETTINGS if s.celery_conf}


def hide_broker_in_title(name: str) -> None:
    """Replace this process's title (argv as ``ps`` shows it) with one that holds no URL."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    setproctitle(f"memharness worker {name}")


def serve(options: NodeOptions) -> int:
    """Run the node until Celery exits or this process is told to stop; Celery's exit status."""
    if options.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more")
    require_password_off_loopback(options.broker_url)
    check_reachable(options.broker_url)
    tmp_root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-node-"))
    cgroup: caps.WorkerCgroup | None = None
    try:
        enforcement = None
        if options.memory_limit_bytes:
            cgroup = _node_cgroup(options.memory_limit_bytes)
            enforcement = f"{cgroup.flavour.name} per node"
        sampler = ChildSampler(tmp_root / "sampler.sock", options.sample_interval_s)
        sampler.start()
        config = NodeConfig(
            tmp_root=str(tmp_root),
            endpoint_url=options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
            region=options.region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            service_endpoints=options.service_endpoints,
            memory_limit_bytes=options.memory_limit_bytes,
            cap_enforcement=enforcement,
            max_memory_per_child_kib=_kib(options.setting("max_memory_per_child_bytes")),
        )
        env = {
            **os.environ,
            BROKER_ENV: options.broker_url,
            NODE_ENV: config.to_env(),
            SOCKET_ENV: str(sampler.path),
            CELERY_CONF_ENV: json.dumps(options.celery_conf()),
            "PYTHONUNBUFFERED": "1",
            # billiard's own temp dirs (pymp-*) go with the node's, and are removed with them.
            "TMPDIR": str(tmp_root),
        }
        print(
            f"memharness worker {options.node_name}: broker {redact(options.broker_url)}, "
            f"S3 {config.endpoint_url or 'AWS'}, {options.concurrency} prefork children"
            + (f", {enforcement} cap {options.memory_limit_bytes} bytes" if enforcement else ""),
            flush=True,
        )
        return _run_celery(_celery_argv(options, config), env, cgroup)
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(tmp_root, ignore_errors=True)


def _kib(num_bytes: int | None) -> int | None:
    return num_bytes // 1024 if num_bytes else None


def _node_cgroup(limit_bytes: int) -> caps.WorkerCgroup:
    found = caps.find_cgroup_parent()
    if found is None:
        raise RunFailed(
            "--memory-limit needs a cgroup with the memory controller, and none is writable "
            "here: run the node in a container with a memory limit instead"
        )
    flavour, parent = found
    return caps.WorkerCgroup(flavour, parent, limit_bytes)


def _celery_argv(options: NodeOptions, config: NodeConfig) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "memharness_s3.execution.celery.app",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(options.concurrency),
        "--hostname",
        options.node_name,
        "--queues",
        QUEUE,
        "--events",
        "--optimization",
        "fair",
        "--without-mingle",
        "--without-gossip",
        "--disable-prefetch",
        "--loglevel",
        "INFO",
    ]
    if config.max_memory_per_child_kib:
        argv += ["--max-memory-per-child", str(config.max_memory_per_child_kib)]
    if max_tasks := options.setting("max_tasks_per_child"):
        argv += ["--max-tasks-per-child", str(max_tasks)]
    if options.log_file is not None:
        argv += ["--logfile", str(options.log_file)]
    return argv


def _run_celery(argv: list[str], env: dict[str, str], cgroup: caps.WorkerCgroup | None) -> int:
    def enter() -> None:
        die_with_parent()
        if cgroup is not None:
            cgroup.join()

    start: Callable[[], None] = enter
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=start)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
