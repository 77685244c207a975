"""The Celery executor's checks that need no broker: task validation, URLs, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memharness_s3.config.settings import RunSettings
from memharness_s3.errors import UsageError
from memharness_s3.execution.celery.broker import redact, require_password_off_loopback
from memharness_s3.execution.celery.task import MAX_PAYLOAD_BYTES, RejectedTask, parse_task
from memharness_s3.execution.session import LocalExecutor, Session, Target

CASE = {"strategy": "chunked", "object_name": "x", "size_bytes": 10}
OBJECT = {
    "bucket": "b",
    "key": "k.pdf",
    "size_bytes": 10,
    "sha256": None,
    "pages": None,
    "fixture": None,
}


def _payload(**changes: Any) -> str:
    return json.dumps({"run_id": "ab12", "case": CASE, "objects": [OBJECT], **changes})


def test_a_well_formed_task_parses_with_the_nodes_own_parameter_defaults() -> None:
    task = parse_task(_payload(case={**CASE, "params": {"chunk_size": 1048576}}))
    assert task.case.strategy == "chunked" and task.case.params["chunk_size"] == 1048576
    assert task.objects[0].key == "k.pdf"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"bytes", "JSON string"),
        ("not json", "not JSON"),
        ("x" * (MAX_PAYLOAD_BYTES + 1), "over"),
        (_payload(tmp_dir="/etc"), "tmp_dir"),
        (_payload(case={**CASE, "strategy": "os:system"}), "not registered"),
        (_payload(case={**CASE, "strategy_target": "os:system"}), "strategy_target"),
        (_payload(case={**CASE, "memray": True}), "memray"),
        (_payload(case={**CASE, "params": {"nope": 1}}), "no parameter"),
        (_payload(case={**CASE, "process_params": {"path": "/etc"}}), "path"),
        (_payload(objects=[{**OBJECT, "path": "/etc/passwd"}]), "path"),
        (_payload(objects=[]), "1 to"),
        (_payload(run_id="../x"), "hex"),
    ],
)
def test_a_forged_task_is_rejected_with_the_reason(payload: Any, why: str) -> None:
    with pytest.raises(RejectedTask, match=why):
        parse_task(payload)


def test_a_broker_on_another_host_needs_a_password_and_no_password_is_ever_shown() -> None:
    require_password_off_loopback("redis://127.0.0.1:6379/0")
    require_password_off_loopback("redis://:pw@10.0.0.5:6379/0")
    with pytest.raises(UsageError, match="no password"):
        require_password_off_loopback("redis://10.0.0.5:6379/0")
    assert redact("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert redact("amqp://user:s3cret@mq:5672//") == "amqp://user:***@mq:5672//"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"soak": 3}, "--soak"),
        ({"max_tasks_per_child": 1}, "--max-tasks-per-child"),
        ({"acks_late": True}, "--acks-late"),
    ],
)
def test_celery_node_settings_are_refused_for_the_local_executor(
    change: dict[str, Any], flag: str, tmp_path: Path
) -> None:
    settings = RunSettings(sizes=[("1MB", 10**6)], strategies=["chunked"], **change)
    session = Session(settings, Target(), tmp_path / "out", executor=LocalExecutor())
    with pytest.raises(UsageError, match=flag):
        session.check()
    assert not (tmp_path / "out").exists()


def test_executor_params_name_only_what_differs_from_celerys_defaults() -> None:
    settings = RunSettings(sizes=[], strategies=[], executor="celery", soak=5, acks_late=True)
    assert settings.executor_params() == {"soak": 5, "acks_late": True}
    assert RunSettings(sizes=[], strategies=[], soak=5).executor_params() == {}
