"""The Celery executor's checks that need no broker: task validation, URLs, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memharness_s3.config.settings import RunSettings
from memharness_s3.errors import UsageError
from memharness_s3.execution.session import LocalExecutor, Session, Target


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
