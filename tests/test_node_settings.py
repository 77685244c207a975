"""A Celery node's settings are rows of the settings table (``settings.NODE_SETTINGS``): the run's
flags, the flags of ``memharness worker``, the argv a run gives the nodes it launches and the
Celery settings a node applies are all derived from those rows."""

from __future__ import annotations

import argparse

from memharness_s3.cli import worker
from memharness_s3.config.settings import NODE_SETTINGS, RunSettings
from memharness_s3.execution.celery.node import NodeOptions

MIB = 2**20


def _parsed(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    worker.add_arguments(parser)
    return parser.parse_args(["--broker", "redis://127.0.0.1:6379/0", *argv])


def test_what_a_run_gives_the_nodes_it_launches_is_what_a_node_is_set_to() -> None:
    settings = RunSettings(
        sizes=[],
        strategies=[],
        executor="celery",
        memory_limit_bytes=512 * MIB,
        max_memory_per_child_bytes=300 * MIB,
        max_tasks_per_child=3,
        acks_late=True,
        reject_on_worker_lost=True,
    )
    given = {setting.field: getattr(settings, setting.field) for setting in NODE_SETTINGS}
    assert all(value not in (None, False) for value in given.values()), "set every node setting"
    assert worker.node_settings(_parsed(settings.node_argv())) == given
    options = NodeOptions("redis://127.0.0.1:6379/0", settings=given)
    assert options.celery_conf() == {"task_acks_late": True, "task_reject_on_worker_lost": True}
    assert options.memory_limit_bytes == 512 * MIB


def test_a_node_without_settings_runs_at_the_defaults_and_is_given_no_flags() -> None:
    settings = RunSettings(sizes=[], strategies=[], executor="celery")
    assert settings.node_argv() == []
    assert worker.node_settings(_parsed([])) == {}
    options = NodeOptions("redis://127.0.0.1:6379/0")
    assert options.celery_conf() == {
        "task_acks_late": False,
        "task_reject_on_worker_lost": False,
    }
    assert options.memory_limit_bytes is None


def test_the_node_settings_that_change_a_measurement_are_the_cases_executor_params() -> None:
    settings = RunSettings(
        sizes=[], strategies=[], executor="celery", soak=5, max_tasks_per_child=1
    )
    assert settings.executor_params() == {"soak": 5, "max_tasks_per_child": 1}
    assert [s.option for s in settings.celery_only()] == ["--soak", "--max-tasks-per-child"]
