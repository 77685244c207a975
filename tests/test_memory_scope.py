"""The memory limit's scope and the environment are dimensions of a case (issue 18 points 1, 6):
set from the command line or a matrix file, part of every case's identity and name, and printed
with every budget, while the ids of results written before them stay what they were."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from memharness_s3.analysis.identity import key_of_case, key_of_result, labels
from memharness_s3.cli import run as run_command
from memharness_s3.config.matrix import load_matrix
from memharness_s3.config.settings import BY_KEY, RunSettings
from memharness_s3.config.sizes import format_budget
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Case
from memharness_s3.results.loader import load
from tests.support.cli import memharness, one_line_error

BEFORE = Path(__file__).parent / "data" / "results-before-memory-scope.jsonl"
"""Lines a local run wrote before the scope and the environment were case fields."""


def test_results_written_before_the_scope_keep_their_case_ids(tmp_path: Path) -> None:
    shutil.copy(BEFORE, tmp_path / "results.jsonl")
    results = load(tmp_path).results
    assert results
    for line in results:
        assert (line.memory_scope, line.env) == ("worker", {})
        assert key_of_result(line).case_id == line.case_id
        # the same case planned today, worker scope, gets the id the file recorded
        case = Case(
            strategy=line.strategy,
            object_name=line.object_name,
            size_bytes=line.size_bytes,
            process=line.process,
            params=line.params,
            process_params=line.process_params,
            concurrency=line.concurrency,
            memory_limit_bytes=line.memory_limit_bytes,
        )
        assert key_of_case(case, line.object_key, line.backend).case_id == line.case_id
        node = dataclasses.replace(case, memory_scope="node")
        env = dataclasses.replace(case, env={"MALLOC_ARENA_MAX": "2"})
        ids = {key_of_case(c, line.object_key, line.backend).case_id for c in (node, env)}
        assert line.case_id not in ids and len(ids) == 2


def test_a_celery_line_written_before_the_scope_reads_as_node_scoped(tmp_path: Path) -> None:
    line = json.loads(BEFORE.read_text().splitlines()[0])
    line.update(executor="celery", executor_params={"soak": 2})
    (tmp_path / "results.jsonl").write_text(json.dumps(line) + "\n")
    (result,) = load(tmp_path).results
    assert result.memory_scope == "node"


def test_soak_alone_keeps_children_with_one_task_per_run() -> None:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    for argv, soak in (([], None), (["--soak"], "1"), (["--soak", "3"], "3")):
        assert parser.parse_args(argv).soak == soak
    assert BY_KEY["soak"].kind.from_text("--soak", "1") == 1
    fresh = RunSettings(sizes=[], strategies=[], executor="celery")
    soak = dataclasses.replace(fresh, soak=1)
    assert (fresh.isolation, fresh.tasks_per_run, fresh.executor_params()) == ("fresh", 1, {})
    assert (soak.isolation, soak.tasks_per_run, soak.executor_params()) == ("soak", 1, {"soak": 1})


def test_scope_and_environment_tell_cases_apart_by_name() -> None:
    key = "fixtures/x.pdf"
    base = Case("chunked", "4MB", 4 * 10**6, concurrency=4, memory_limit_bytes=512 * 2**20)
    cases = [
        base,
        dataclasses.replace(base, memory_scope="node"),
        dataclasses.replace(base, memory_scope="node", env={"MALLOC_ARENA_MAX": "2"}),
    ]
    names = sorted(labels(key_of_case(c, key, "moto") for c in cases).values())
    assert names == [
        "chunked 4MB x4 MALLOC_ARENA_MAX=2 node scope",
        "chunked 4MB x4 node scope",
        "chunked 4MB x4 worker scope",
    ]


def test_a_matrix_file_sets_scope_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[matrix]\nsizes = ["small"]\nstrategies = ["chunked"]\nmemory_limit = "512MiB"\n'
        'memory_scope = "node"\nenv = { MALLOC_ARENA_MAX = "2", A_B = "x=y" }\n'
    )
    settings = load_matrix(path)
    assert settings.scope == "node"
    assert settings.env == {"A_B": "x=y", "MALLOC_ARENA_MAX": "2"}
    assert list(settings.env) == ["A_B", "MALLOC_ARENA_MAX"]


def test_the_scope_defaults_to_the_executors_own() -> None:
    assert RunSettings(sizes=[], strategies=[]).scope == "worker"
    assert RunSettings(sizes=[], strategies=[], executor="celery").scope == "node"
    given = RunSettings(sizes=[], strategies=[], memory_scope="node")
    assert given.scope == "node"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('memory_scope = "pod"', "unknown memory scope 'pod'"),
        ('env = "MALLOC_ARENA_MAX=2"', "'env' must be a table of strings"),
        ("env = { MALLOC_ARENA_MAX = 2 }", "'env' must be a table of strings"),
        ('env = { "1X" = "2" }', "is not an environment variable name"),
        ('env = { MEMHARNESS_NODE = "x" }', "is the harness's own variable"),
    ],
)
def test_a_bad_scope_or_environment_in_a_matrix_is_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f'[matrix]\nsizes = ["small"]\nstrategies = ["chunked"]\n{text}\n')
    with pytest.raises(UsageError) as caught:
        load_matrix(path)
    assert str(caught.value).startswith(f"{path}:4: "), caught.value
    assert expected in str(caught.value)


def test_the_command_line_parses_repeated_env_flags() -> None:
    kind = BY_KEY["env"].kind
    assert kind.from_text("--env", ["B=1", "A=x=y", "C="]) == {"A": "x=y", "B": "1", "C": ""}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--env", "MALLOC_ARENA_MAX"], "--env takes NAME=VALUE, got 'MALLOC_ARENA_MAX'"),
        (["--env", "1X=2"], "'1X' is not an environment variable name"),
        (["--env", "=2"], "'' is not an environment variable name"),
        (["--env", "A=1", "--env", "A=2"], "--env sets A twice"),
        (["--memory-scope", "pod"], "unknown memory scope 'pod'"),
        (
            ["--executor", "celery", "--memory-scope", "worker"],
            "--memory-scope worker cannot be had with --executor celery",
        ),
    ],
)
def test_bad_scope_or_env_on_the_command_line_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    proc = memharness("run", "--sizes", "4MB", "--strategies", "chunked", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in one_line_error(proc)
    assert not (tmp_path / "reports").exists()


def test_a_budget_says_what_it_caps() -> None:
    assert format_budget(512 * 2**20, "worker") == "512 MiB per worker"
    assert format_budget(512 * 2**20, "node") == "512 MiB shared by the node"
    assert format_budget(10**9, "node") == "1 GB shared by the node"
