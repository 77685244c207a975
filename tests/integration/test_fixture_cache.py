"""The fixture cache: reused when intact, regenerated when partial or corrupt."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from memharness_s3.s3.fixture_cache import (
    cache_root,
)
from tests.support.cli import MEMHARNESS


def test_cache_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMHARNESS_CACHE", str(tmp_path / "explicit"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("MEMHARNESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "memharness"


TOO_BIG = (
    "size '12GB' is above the largest PDF the generator writes (9.99 GB, 9,999,999,999 bytes: "
    "a classic xref table holds 10-digit offsets)"
)
TOO_SMALL = "size '1KB' is below the smallest PDF the generator writes (4 KiB, 4,096 bytes)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fixtures", "--sizes", "12GB", "--cache-dir", "cache"], "--sizes: " + TOO_BIG),
        (
            ["run", "--sizes", "1KB", "--strategies", "read-all", "--out", "out"],
            "--sizes: " + TOO_SMALL,
        ),
    ],
    ids=["fixtures-too-big", "run-too-small"],
)
def test_the_cli_refuses_out_of_range_sizes_up_front(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [*MEMHARNESS, *args],
        cwd=tmp_path,
        env={**os.environ, "MEMHARNESS_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"memharness: error: {message}"]
    assert list(tmp_path.iterdir()) == []  # no cache written, no backend started, no out dir
