"""The one logger: every warning memharness gives, and what ``-v`` adds, goes through it.

Loggers are named ``memharness.<part>`` (:func:`get`); the ``memharness`` command configures
them once (:func:`configure`): warnings and errors by default, ``-v`` adds what the harness is
doing, ``-vv`` debug detail with the tracebacks of errors it handled; ``MEMHARNESS_LOG`` (a
level name: ``debug``, ``info``, ``warning``, ``error``) overrides both. Messages go to stderr
as ``memharness: warning: ...``, the shape every other line on stderr has. Standard library
only: the Celery task module in a prefork child uses it too.
"""

from __future__ import annotations

import logging
import os
import sys

ROOT = "memharness"
LEVEL_ENV = "MEMHARNESS_LOG"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def get(part: str) -> logging.Logger:
    """The logger of one part of the harness (``memharness.<part>``)."""
    return logging.getLogger(f"{ROOT}.{part}")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a message is logged (pytest swaps it per test)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")  # over a live progress line, not after it
        super().emit(record)


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            line = f"{ROOT}: {record.levelname.lower()}: {text}"
        elif record.levelno >= logging.INFO:
            line = f"{ROOT}: {text}"
        else:
            line = f"{ROOT}: debug [{record.name}]: {text}"
        # A handled error's traceback is detail: shown from -vv on, never by default.
        if record.exc_info and logging.getLogger(ROOT).isEnabledFor(logging.DEBUG):
            line += "\n" + self.formatException(record.exc_info)
        return line


def level_for(verbosity: int) -> int:
    """The level ``-v`` given ``verbosity`` times asks for, unless ``MEMHARNESS_LOG`` names one."""
    named = os.environ.get(LEVEL_ENV, "").strip().lower()
    if named in _LEVELS:
        return _LEVELS[named]
    return {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)


def configure(verbosity: int = 0) -> None:
    """Send memharness's log to stderr at the level asked for (idempotent)."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level_for(verbosity))
    logger.propagate = False
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_Format())
        logger.addHandler(handler)
    named = os.environ.get(LEVEL_ENV, "").strip().lower()
    if named and named not in _LEVELS:
        logger.warning(
            "%s=%r is not a level (%s); using warning", LEVEL_ENV, named, ", ".join(_LEVELS)
        )
