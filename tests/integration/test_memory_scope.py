"""The memory limit's scope and the environment are dimensions of a case (issue 18 points 1, 6):
set from the command line or a matrix file, part of every case's identity and name, and printed
with every budget, while the ids of results written before them stay what they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import memharness, one_line_error


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
