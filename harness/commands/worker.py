"""``memharness worker``: a Celery worker node for ``memharness run --executor celery``.

Run it on each worker machine with the same broker and S3 endpoint as the coordinating run
(``memharness run --executor celery --nodes 0 --broker URL --backend endpoint ...``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from memharness_s3.cli.options import add_setting_flag
from memharness_s3.config.settings import NODE_SETTINGS
from memharness_s3.errors import UsageError
from memharness_s3.execution.celery.config import BROKER_ENV

NAME = "worker"
HELP = "run a Celery worker node that takes memharness tasks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        help=f"broker URL, e.g. redis://:PASSWORD@HOST:6379/0 (default: ${BROKER_ENV}; prefer "
        "the variable for a URL with a password)",
    )
    parser.add_argument("--name", default="", help="node name (default: memharness-PID@HOST)")
    parser.add_argument("--concurrency", type=int, default=1, help="prefork children (default: 1)")
    for setting in NODE_SETTINGS:
        add_setting_flag(parser, setting, setting.node_help)
    parser.add_argument(
        "--endpoint-url", help="S3 endpoint the tasks fetch from (default: $AWS_ENDPOINT_URL)"
    )
    parser.add_argument("--textract-endpoint-url", help="Textract endpoint for textract-direct")
    parser.add_argument("--region", help="region for the clients (default: us-east-1)")
    parser.add_argument("--logfile", type=Path, help="Celery's log file (default: stderr)")


def run(args: argparse.Namespace) -> int:
    from memharness_s3.execution.celery.node import NodeOptions, hide_broker_in_title, serve

    broker = args.broker or os.environ.get(BROKER_ENV)
    if not broker:
        raise UsageError(f"give --broker URL or set {BROKER_ENV}")
    options = NodeOptions(
        broker_url=broker,
        name=args.name,
        concurrency=args.concurrency,
        settings=node_settings(args),
        endpoint_url=args.endpoint_url,
        service_endpoints=(
            {"textract": args.textract_endpoint_url} if args.textract_endpoint_url else {}
        ),
        region=args.region,
        log_file=args.logfile,
    )
    hide_broker_in_title(options.node_name)
    return serve(options)


def node_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The node settings given on the command line, parsed as ``memharness run`` parses them,
    by ``RunSettings`` field."""
    return {
        setting.field: setting.kind.from_text(setting.option, given)
        for setting in NODE_SETTINGS
        if (given := getattr(args, setting.dest)) is not None and given is not False
    }
