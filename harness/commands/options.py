"""Options more than one subcommand takes."""

from __future__ import annotations

import argparse
from pathlib import Path

from memharness_s3.config.settings import BY_KEY, Setting
from memharness_s3.fixtures.catalog import DEFAULT_SEED


def add_fixture_options(parser: argparse.ArgumentParser) -> None:
    """``--sizes`` (as the settings table defines it), ``--seed`` and ``--cache-dir``."""
    parser.add_argument(BY_KEY["sizes"].option, help=BY_KEY["sizes"].help)
    parser.add_argument("--seed", default=DEFAULT_SEED, help="fixture generator seed")
    parser.add_argument(
        "--cache-dir", type=Path, help="fixture cache (default: $MEMHARNESS_CACHE or ~/.cache)"
    )


def add_setting_flag(parser: argparse.ArgumentParser, setting: Setting, help: str) -> None:
    """The flag of a row of the settings table (``memharness run``'s, ``memharness worker``'s)."""
    action = setting.kind.flag_action
    if action == "store_true":
        parser.add_argument(setting.option, action=action, help=help)
    elif action == "append":
        parser.add_argument(setting.option, action=action, metavar="SPEC", help=help)
    else:
        parser.add_argument(setting.option, help=help)
