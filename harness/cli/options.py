"""Options more than one subcommand takes."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from memharness_s3.config.settings import BY_KEY, RunSettings, Setting
from memharness_s3.errors import UsageError
from memharness_s3.fixtures.catalog import DEFAULT_SEED


def add_fixture_options(parser: argparse.ArgumentParser, with_sizes: bool = True) -> None:
    """``--sizes`` (as the settings table defines it), ``--seed`` and ``--cache-dir``."""
    if with_sizes:
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
    elif setting.kind.flag_const is not None:
        parser.add_argument(
            setting.option, nargs="?", const=setting.kind.flag_const, metavar="N", help=help
        )
    elif action == "append":
        parser.add_argument(setting.option, action=action, metavar=setting.kind.metavar, help=help)
    else:
        parser.add_argument(setting.option, help=help)


def add_param_option(parser: argparse.ArgumentParser) -> None:
    """``--param STRATEGY.NAME=VALUE`` (repeatable), as run and limits take it."""
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="STRATEGY.NAME=VALUE",
        help="override a strategy parameter, e.g. chunked.chunk_size=16MiB (repeatable)",
    )


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Where the objects are and how to reach them (``session.Target``), and Celery's broker."""
    parser.add_argument(
        "--endpoint-url",
        help="S3 endpoint URL to measure against; implies --backend endpoint (which without it "
        "reads AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--textract-endpoint-url",
        help="Textract endpoint (default: moto's own, or a moto started beside s3rver/minio)",
    )
    parser.add_argument("--region", help="region for the clients (default: us-east-1)")
    parser.add_argument("--bucket", default="memharness", help="bucket (default: memharness)")
    parser.add_argument(
        "--broker",
        help="celery: broker URL, e.g. redis://:PASSWORD@HOST:6379/0 (default: "
        "$MEMHARNESS_BROKER_URL, else a private redis-server the run starts and stops)",
    )


def with_endpoint(settings: RunSettings, endpoint_url: str | None) -> RunSettings:
    """``--endpoint-url`` names the backend: it implies ``--backend endpoint`` when no backend
    is given, and contradicts any other (it would be ignored, and moto measured instead)."""
    if endpoint_url is None or settings.backend == "endpoint":
        return settings
    if settings.backend is not None:
        raise UsageError(
            f"--endpoint-url is for --backend endpoint, but the backend is {settings.backend!r} "
            "(the harness launches that one itself): drop one of them"
        )
    return dataclasses.replace(settings, backend="endpoint")
