"""The fixture cache: reused when intact, regenerated when partial or corrupt."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.s3.fixture_cache import (
    cache_root,
    ensure_fixture,
    resolve_fixture_size,
    resolve_size,
    resolve_sizes,
)
from memharness_s3.s3.pdfgen import MAX_TARGET_BYTES, MIN_TARGET_BYTES

SIZE = 300_000


def test_an_intact_entry_is_reused(tmp_path: Path) -> None:
    first = ensure_fixture("t", SIZE, "seed", tmp_path)
    mtime = first.path.stat().st_mtime_ns
    second = ensure_fixture("t", SIZE, "seed", tmp_path)
    assert second == first
    assert second.path.stat().st_mtime_ns == mtime
    manifest = json.loads(first.path.with_suffix(".json").read_text())
    assert manifest["sha256"] == first.sha256 and manifest["pages"] == first.pages


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: SIZE // 2])


def _drop_manifest(path: Path) -> None:
    path.with_suffix(".json").unlink()


def _garble_manifest(path: Path) -> None:
    path.with_suffix(".json").write_text("{not json")


@pytest.mark.parametrize("damage", [_flip_one_byte, _truncate, _drop_manifest, _garble_manifest])
def test_a_damaged_entry_is_regenerated(tmp_path: Path, damage: object) -> None:
    original = ensure_fixture("t", SIZE, "seed", tmp_path)
    damage(original.path)  # type: ignore[operator]
    again = ensure_fixture("t", SIZE, "seed", tmp_path)
    assert again.sha256 == original.sha256
    assert hashlib.sha256(again.path.read_bytes()).hexdigest() == original.sha256


def test_seeds_and_sizes_get_their_own_entries(tmp_path: Path) -> None:
    a = ensure_fixture("t", SIZE, "a b", tmp_path)
    b = ensure_fixture("t", SIZE, "a_b", tmp_path)
    c = ensure_fixture("t", SIZE + 1, "a b", tmp_path)
    assert len({a.path, b.path, c.path}) == 3
    assert a.sha256 != b.sha256


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RunFailed, match="not writable"):
        ensure_fixture("t", SIZE, "seed", blocker)


def test_cache_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMHARNESS_CACHE", str(tmp_path / "explicit"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("MEMHARNESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "memharness"


def test_catalog_names_and_size_strings() -> None:
    assert resolve_size("medium") == ("medium", 250_000_000)
    assert resolve_size("XLARGE") == ("xlarge", 2_000_000_000)
    assert resolve_size("64MiB") == ("64MiB", 64 * 2**20)


TOO_BIG = (
    "size '12GB' is above the largest PDF the generator writes (9.99 GB, 9,999,999,999 bytes: "
    "a classic xref table holds 10-digit offsets)"
)
TOO_SMALL = "size '1KB' is below the smallest PDF the generator writes (4 KiB, 4,096 bytes)"


@pytest.mark.parametrize(
    ("text", "message"), [("12GB", TOO_BIG), ("1KB", TOO_SMALL)], ids=["too-big", "too-small"]
)
def test_fixture_sizes_outside_the_generator_range_are_usage_errors(
    text: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_fixture_size(text)
    assert str(caught.value) == message
    with pytest.raises(UsageError) as caught:
        resolve_sizes(f"small,{text}")
    assert str(caught.value) == message


def test_fixture_sizes_at_the_generator_limits_are_accepted() -> None:
    assert resolve_fixture_size("4KiB") == ("4KiB", MIN_TARGET_BYTES)
    assert resolve_fixture_size(str(MAX_TARGET_BYTES)) == (str(MAX_TARGET_BYTES), MAX_TARGET_BYTES)
    assert resolve_sizes("xlarge,9.99GB") == [("xlarge", 2 * 10**9), ("9.99GB", 9_990_000_000)]
    with pytest.raises(UsageError, match="above the largest"):
        resolve_fixture_size("10GB")
    with pytest.raises(UsageError, match="below the smallest"):
        resolve_fixture_size("4095")


def test_threshold_sizes_are_not_limited_to_the_generator_range() -> None:
    """An expectation's min_size is a threshold, not a fixture: any positive size will do."""
    assert resolve_size("12GB") == ("12GB", 12 * 10**9)
    assert resolve_size("1KB") == ("1KB", 1000)


def test_ensure_fixture_refuses_sizes_the_generator_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="size '12GB' is above the largest"):
        ensure_fixture("12GB", 12 * 10**9, "seed", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fixtures", "--sizes", "12GB", "--cache-dir", "cache"], TOO_BIG),
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
        [sys.executable, "-m", "memharness_s3.cli", *args],
        cwd=tmp_path,
        env={**os.environ, "MEMHARNESS_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"memharness: error: {message}"]
    assert list(tmp_path.iterdir()) == []  # no cache written, no backend started, no out dir
