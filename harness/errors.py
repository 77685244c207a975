"""The kinds of failure the CLI turns into one line and an exit status, and those statuses."""

from __future__ import annotations

EXIT_FAILED = 1
"""A run failed or could not proceed, a gate FAILed, a compare found a step up."""
EXIT_USAGE = 2
"""Bad usage or bad input: nothing was started."""
EXIT_INTERNAL = 3
"""A bug in memharness: one line, and the traceback in a log file (``paths.write_crash_log``)."""


class UsageError(Exception):
    """The user asked for something malformed or unknown (exit status 2)."""


class RunFailed(Exception):
    """The run could not proceed or a case could not be measured (exit status 1)."""
