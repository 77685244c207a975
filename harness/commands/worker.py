"""``memharness worker``: a Celery worker node for ``memharness run --executor celery``.

Run it on each worker machine with the same broker and S3 endpoint as the coordinating run
(``memharness run --executor celery --nodes 0 --broker URL --backend endpoint ...``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from memharness_s3.celery_executor.config import BROKER_ENV
from memharness_s3.errors import UsageError
from memharness_s3.sizes import parse_size

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
    parser.add_argument(
        "--max-memory-per-child", help="Celery's worker_max_memory_per_child, e.g. 300MiB"
    )
    parser.add_argument(
        "--max-tasks-per-child", type=int, help="Celery's worker_max_tasks_per_child"
    )
    parser.add_argument("--memory-limit", help="hard cap on the whole node (a cgroup), e.g. 512MiB")
    parser.add_argument("--acks-late", action="store_true", help="task_acks_late")
    parser.add_argument(
        "--reject-on-worker-lost", action="store_true", help="task_reject_on_worker_lost"
    )
    parser.add_argument(
        "--endpoint-url", help="S3 endpoint the tasks fetch from (default: $AWS_ENDPOINT_URL)"
    )
    parser.add_argument("--textract-endpoint-url", help="Textract endpoint for textract-direct")
    parser.add_argument("--region", help="region for the clients (default: us-east-1)")
    parser.add_argument("--logfile", type=Path, help="Celery's log file (default: stderr)")


def run(args: argparse.Namespace) -> int:
    from memharness_s3.celery_executor.node import NodeOptions, hide_broker_in_title, serve

    broker = args.broker or os.environ.get(BROKER_ENV)
    if not broker:
        raise UsageError(f"give --broker URL or set {BROKER_ENV}")
    if args.max_tasks_per_child is not None and args.max_tasks_per_child < 1:
        raise UsageError("--max-tasks-per-child must be 1 or more")
    options = NodeOptions(
        broker_url=broker,
        name=args.name,
        concurrency=args.concurrency,
        max_memory_per_child_bytes=_size(args.max_memory_per_child, "--max-memory-per-child"),
        max_tasks_per_child=args.max_tasks_per_child,
        memory_limit_bytes=_size(args.memory_limit, "--memory-limit"),
        acks_late=args.acks_late,
        reject_on_worker_lost=args.reject_on_worker_lost,
        endpoint_url=args.endpoint_url,
        service_endpoints=(
            {"textract": args.textract_endpoint_url} if args.textract_endpoint_url else {}
        ),
        region=args.region,
        log_file=args.logfile,
    )
    hide_broker_in_title(options.node_name)
    return serve(options)


def _size(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc}") from None
