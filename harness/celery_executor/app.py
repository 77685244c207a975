"""The Celery application both sides load: ``celery -A memharness_s3.execution.celery.app worker``.

Everything travels as JSON, never pickle: anyone who can write to a broker whose workers accept
pickle runs code on every worker. The broker URL comes from the environment
(``MEMHARNESS_BROKER_URL``), never from the command line, so a password in it shows in no process
title. The results go back through the broker's own server where it can store them (Redis), else
through the broker (``rpc://``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from celery import Celery

from memharness_s3.execution.celery.config import BROKER_ENV, CELERY_CONF_ENV, QUEUE

FETCH_TASK = "memharness.fetch"


def result_backend_for(broker_url: str) -> str:
    """Where results go: the broker's Redis when it is one, else back through the broker."""
    return broker_url if broker_url.startswith(("redis://", "rediss://")) else "rpc://"


def make_app(broker_url: str, conf: Mapping[str, Any] | None = None) -> Any:
    """A Celery app on ``broker_url`` that accepts and sends JSON only; ``conf``: Celery
    settings on top (a node's, from its settings: ``task_acks_late`` ...)."""
    app = Celery("memharness", set_as_current=False)
    app.conf.update(
        broker_url=broker_url,
        result_backend=result_backend_for(broker_url),
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=QUEUE,
        task_acks_late=False,
        task_reject_on_worker_lost=False,
        task_track_started=True,
        task_send_sent_event=False,
        worker_send_task_events=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=3,
        result_expires=3600,
    )
    app.conf.update(conf or {})
    return app


def _from_environment() -> Any:
    """The node's app: its broker and acknowledgement settings from the environment."""
    app = make_app(
        os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/0"),
        json.loads(os.environ.get(CELERY_CONF_ENV, "{}")),
    )
    from memharness_s3.execution.celery.task import register

    register(app)
    return app


app = _from_environment() if os.environ.get(BROKER_ENV) else None
"""Set only in a node (``memharness worker`` puts the broker in the environment)."""
