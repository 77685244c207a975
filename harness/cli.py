"""The ``memharness`` command line: one subcommand per module in ``memharness_s3.commands``.

Every failure the user can cause or fix ends in one line on stderr and exit status 2 (bad
usage) or 1 (the run failed); results already written stay on disk.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType
from typing import NoReturn

from memharness_s3.commands import export, fixtures, gate, report, strategies
from memharness_s3.commands import run as run_cmd
from memharness_s3.errors import RunFailed, UsageError

PROG = "memharness"
COMMANDS: tuple[ModuleType, ...] = (strategies, fixtures, run_cmd, report, gate, export)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Measure how Python workers get large PDFs out of S3.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every result finished so far is kept", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug must still end in one line
        if os.environ.get("MEMHARNESS_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(MEMHARNESS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
