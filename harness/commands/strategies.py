"""``memharness strategies``: the registered strategies and their parameters."""

from __future__ import annotations

import argparse

from memharness_s3.config import registry

NAME = "strategies"
HELP = "list registered strategies and their parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This subcommand takes no options."""


def run(args: argparse.Namespace) -> int:
    """List what loads; name (on stderr) what is registered but does not, and (on stdout) what
    needs an optional extra to be installed."""
    registry.warn_broken()
    for name in registry.available():
        cls = registry.load(name)
        opt_in = " (opt-in: runs when named)" if getattr(cls, "opt_in", False) else ""
        print(f"{name:18} {cls.description}{opt_in}")
        for param, default in cls.params.items():
            print(f"{'':18}   {param} = {default!r}")
    for name, requirement in registry.not_installed().items():
        print(f"{name:18} not installed: pip install '{requirement}'")
    return 0
