"""The fixture cache: reused when intact, regenerated when partial or corrupt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from memharness_s3.errors import RunFailed
from memharness_s3.fixture_cache import cache_root, ensure_fixture, resolve_size

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
