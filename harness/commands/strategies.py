"""``memharness strategies``: the registered strategies and their parameters."""

from __future__ import annotations

import argparse

from memharness_s3 import registry

NAME = "strategies"
HELP = "list registered strategies and their parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This subcommand takes no options."""


def run(args: argparse.Namespace) -> int:
    """List what loads; name (on stderr) what is registered but does not."""
    registry.warn_broken()
    for name in registry.available():
        cls = registry.load(name)
        print(f"{name:18} {cls.description}")
        for param, default in cls.params.items():
            print(f"{'':18}   {param} = {default!r}")
    return 0
