"""Which figure a run is held against its budget by: the scope of its memory limit.

A limit is either each worker's own (``worker`` scope: a cgroup or watchdog per worker process)
or shared by every worker of a node or container (``node`` scope: the kernel charges the node's
resident memory, page cache left out, and kills a child when the sum passes the limit). The
figure that matches the kernel is, per run:

- worker scope: the worker's own peak RSS (``peak_rss_bytes``);
- node scope: the node's charged peak (``node_charged_peak_bytes``), never a sum of per-worker
  peaks (it counts pages a forked child shares with its parent once per child) nor a multiple
  of a per-worker budget.

Celery runs are node scope by nature (the node's children share its cgroup), whatever their
lines say: results written before the scope was recorded have no ``memory_scope`` field.
Fields another part of the harness adds are read with ``getattr`` so results written before
them still load.
"""

from __future__ import annotations

from collections.abc import Iterable

from memharness_s3.model.records import RunResult

WORKER, NODE = "worker", "node"
SCOPES = (WORKER, NODE)

FIGURE_NAMES = {WORKER: "peak RSS per worker", NODE: "node charged peak"}
"""What each scope's budget figure is called wherever a verdict names what it compared."""


def scope_of(result: RunResult) -> str:
    """``node`` for a Celery run or a run whose limit was shared by its workers, else
    ``worker``."""
    if result.executor == "celery":
        return NODE
    return NODE if getattr(result, "memory_scope", None) == NODE else WORKER


def node_charged_peak(result: RunResult) -> int | None:
    """The node's resident peak as the kernel charged it during the run, when measured."""
    value = getattr(result, "node_charged_peak_bytes", None)
    return value if isinstance(value, int) else None


def node_idle(result: RunResult) -> int | None:
    """The node's charged figure just before the run (its idle floor), when measured."""
    value = getattr(result, "node_idle_bytes", None)
    return value if isinstance(value, int) else None


def budget_figure(result: RunResult) -> int | None:
    """The figure the run is held against its budget by (module docstring)."""
    return node_charged_peak(result) if scope_of(result) == NODE else result.peak_rss_bytes


def scopes_of(results: Iterable[RunResult]) -> list[str]:
    """The scopes present, worker first."""
    present = {scope_of(r) for r in results}
    return [scope for scope in SCOPES if scope in present]


def figure_name(scope: str) -> str:
    return FIGURE_NAMES[scope]
