"""The remote control command by which the coordinator reads a node's memory between runs.

Celery's main process answers ``memharness_node`` broadcasts by asking its supervisor, which
samples the node from outside (``sampler``): ``mark`` before a run (the idle floor), ``peak``
after it (the peaks and the children lost in tasks), ``children`` while a restarted pool forks
its new children. Registered when a node loads the app; a node without a supervisor (a plain
``celery worker`` on this app) answers ``{}``.
"""

from __future__ import annotations

from typing import Any

from celery.worker.control import control_command

from memharness_s3.execution.celery.config import NODE_COMMAND
from memharness_s3.execution.celery.sampler import ask_supervisor


@control_command(name=NODE_COMMAND, args=[("verb", str)], signature="<verb>")  # type: ignore[untyped-decorator]
def memharness_node(state: Any, verb: str = "", **kwargs: Any) -> dict[str, Any]:
    """The supervisor's answer to ``verb``; ``{"error": ...}`` when it cannot be had."""
    try:
        return ask_supervisor(verb)
    except (OSError, ValueError) as exc:
        return {"error": str(exc) or type(exc).__name__}
