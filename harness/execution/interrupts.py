"""Ctrl-C and SIGTERM end a run as KeyboardInterrupt, and are remembered in case it is lost.

A handler's exception is raised wherever the main thread happens to be, and some places drop
it: a signal that lands while ``subprocess`` forks a worker runs the handler inside an at-fork
callback (logging's ``_releaseLock``), where Python prints "Exception ignored" and goes on, so
the run finished as if nothing had been asked (seen under load, 1 Ctrl-C in 8). The handler
therefore records the request too, the sampling loop (:func:`check`) raises it again at its
next tick, and the command line ends with 130 even if the run got to its end.
"""

from __future__ import annotations

import signal
from types import FrameType

_requested = False


def install() -> None:
    """Handle SIGTERM, and SIGINT unless it was ignored when the process started (a job a shell
    script put in the background keeps ignoring Ctrl-C, as the shell asked)."""
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


def requested() -> bool:
    """Whether Ctrl-C or SIGTERM arrived since :func:`install`."""
    return _requested


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived (again, if it was lost on the way)."""
    if _requested:
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt
