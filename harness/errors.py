"""The two kinds of failure the CLI turns into one line and an exit status."""

from __future__ import annotations


class UsageError(Exception):
    """The user asked for something malformed or unknown (exit status 2)."""


class RunFailed(Exception):
    """The run could not proceed or a case could not be measured (exit status 1)."""
