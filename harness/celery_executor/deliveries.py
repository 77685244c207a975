"""How many times each task was started, and on which node, from Celery's own events.

Every node the harness starts sends task events (``--events``); a ``task-started`` event comes
each time a child starts a task, so a task redelivered after its child died (``acks_late`` with
``task_reject_on_worker_lost``) is counted once per delivery. A thread consumes the events for
the whole run; :meth:`DeliveryCounter.starts` is read while waiting for results.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any


class DeliveryCounter:
    """Context manager: counts ``task-started`` events per task id while the block runs."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._starts: dict[str, list[str]] = {}
        """Task id -> the node of each start."""
        self._receiver: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None

    def __enter__(self) -> DeliveryCounter:
        self._thread = threading.Thread(target=self._consume, name="deliveries", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        if self._thread is not None:
            self._thread.join(5)

    def _consume(self) -> None:
        try:
            with self.app.connection_for_read() as connection:
                self._receiver = self.app.events.Receiver(
                    connection, handlers={"task-started": self._on_started, "*": _ignore}
                )
                self._receiver.on_consume_ready = self._on_ready
                self._receiver.capture(limit=None, timeout=None, wakeup=False)
        except Exception as exc:  # the broker went away: waiting for results will see it too
            self.error = str(exc) or type(exc).__name__
        finally:
            self._ready.set()

    def _on_ready(self, *args: Any, **kwargs: Any) -> None:
        self._ready.set()

    def _on_started(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._starts.setdefault(str(event.get("uuid")), []).append(
                str(event.get("hostname", ""))
            )

    def starts(self, task_id: str) -> int:
        """How many times a child has started the task so far."""
        with self._lock:
            return len(self._starts.get(task_id, []))

    def last_node(self, task_id: str) -> str | None:
        """The node that started the task last, or None if none has yet."""
        with self._lock:
            found = self._starts.get(task_id)
            return found[-1] if found else None


def _ignore(event: dict[str, Any]) -> None:
    """Events other than task starts are not needed."""
