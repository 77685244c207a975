"""The ``memharness`` command line: one subcommand per module in ``memharness_s3.cli``.

Every failure the user can cause or fix ends in one line on stderr and exit status 2 (bad
usage or bad input) or 1 (the run failed); results already written stay on disk. A bug in
memharness ends in one line and exit status 3, with the traceback kept in a log file the line
names. Building the parser imports
only the subcommands' option definitions: ``--help``, ``--version``, ``strategies`` and usage
errors never load the measuring, plotting or report code (each subcommand imports that when it
runs).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from memharness_s3 import log
from memharness_s3.cli import (
    cache,
    calibrate,
    compare,
    export,
    fixtures,
    gate,
    limits,
    report,
    strategies,
    worker,
)
from memharness_s3.cli import run as run_cmd
from memharness_s3.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE, RunFailed, UsageError
from memharness_s3.execution import interrupts
from memharness_s3.paths import write_crash_log
from memharness_s3.printable import printable

PROG = "memharness"
DISTRIBUTION = "memharness-s3"
COMMANDS: tuple[ModuleType, ...] = (
    strategies,
    fixtures,
    run_cmd,
    limits,
    report,
    gate,
    calibrate,
    compare,
    export,
    cache,
    worker,
)
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE
"""What a shell reports for a program killed by SIGPIPE (``memharness strategies | head -3``)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _Version(argparse.Action):
    """``--version``: the distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(DISTRIBUTION)
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"{PROG} {found} ({DISTRIBUTION})")
        parser.exit(0)


VERBOSE_HELP = (
    f"say more on stderr: -v what the harness is doing, -vv debug detail with the tracebacks "
    f"of errors it handled ({log.LEVEL_ENV}=debug|info|warning|error overrides)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Measure how Python workers get large PDFs out of S3.")
    parser.add_argument("--version", action=_Version)
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP)
        # SUPPRESS: a subcommand without -v keeps what was given before it (`memharness -v run`)
        sub.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    interrupts.install()
    try:
        args = build_parser().parse_args(argv)
        log.configure(args.verbose)
        status = int(args.handler(args))
        interrupts.check()  # an interrupt the run lost on its way (``interrupts``)
        return status
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every result finished so far is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a program killed by SIGPIPE does.
        # stdout is pointed at /dev/null so that flushing it at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
    except Exception as exc:  # a bug must still end in one line, with a code of its own
        if os.environ.get("MEMHARNESS_DEBUG"):
            raise
        crash_log = write_crash_log(traceback.format_exc())
        shows = "MEMHARNESS_DEBUG=1 shows the traceback"
        where = f"traceback in {crash_log}" if crash_log else shows
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {printable(str(exc), 300)} ({where})",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
