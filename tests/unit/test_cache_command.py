"""``memharness cache``: what the cache holds, and clearing it without touching a server data
directory a running session holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from memharness_s3.s3 import cache_contents
from memharness_s3.s3.backends import data_cache
from tests.support.cli import memharness, one_line_error


def _cache(root: Path) -> None:
    (root / "fixtures").mkdir(parents=True)
    (root / "fixtures" / "a.pdf").write_bytes(b"x" * 1000)
    (root / "fixtures" / "a.json").write_text("{}")
    for key in ("s3rver-1", "s3rver-2"):
        held = data_cache.claim(root, key)
        assert held is not None
        (held.path / "bucket").mkdir()
        (held.path / "bucket" / "object").write_bytes(b"y" * 5000)
        held.ledger_path.write_text("[]")
        held.release()
    (root / "node" / "node_modules").mkdir(parents=True)
    (root / "node" / "node_modules" / "s3rver.js").write_bytes(b"z" * 300)


def _sizes(root: Path) -> dict[str, int]:
    return {part.name: part.size_bytes for part in cache_contents.survey(root)}


def test_survey_counts_each_part(tmp_path: Path) -> None:
    _cache(tmp_path)
    assert _sizes(tmp_path) == {"fixtures": 1002, "servers": 10004, "node": 300, "crashes": 0}


def test_clear_leaves_what_a_running_session_holds(tmp_path: Path) -> None:
    _cache(tmp_path)
    held = data_cache.claim(tmp_path, "s3rver-2")  # a session running on this server's data
    assert held is not None
    try:
        [usage] = [p for p in cache_contents.survey(tmp_path) if p.name == "servers"]
        assert usage.in_use == ("s3rver-2",)
        cleared = {c.name: c for c in cache_contents.clear(tmp_path, cache_contents.PARTS)}
        assert cleared["servers"].left == ("s3rver-2",)
        assert cleared["servers"].size_bytes == 5002  # s3rver-1's object and ledger
        assert (held.path / "bucket" / "object").exists()
        assert cleared["node"].left  # the held server runs from the npm install
        assert (tmp_path / "node" / "node_modules" / "s3rver.js").exists()
        assert cleared["fixtures"].size_bytes == 1002
    finally:
        held.release()
    cleared = {c.name: c for c in cache_contents.clear(tmp_path, cache_contents.PARTS)}
    assert not any(c.left for c in cleared.values())
    assert _sizes(tmp_path) == {"fixtures": 0, "servers": 0, "node": 0, "crashes": 0}


def test_cli_clears_only_the_parts_named(tmp_path: Path) -> None:
    _cache(tmp_path)
    done = memharness("cache", "clear", "fixtures", "--cache-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fixtures  freed")
    assert _sizes(tmp_path) == {"fixtures": 0, "servers": 10004, "node": 300, "crashes": 0}
    listed = memharness("cache", "--cache-dir", str(tmp_path), cwd=tmp_path)
    assert listed.returncode == 0
    assert "servers" in listed.stdout and "total" in listed.stdout


def test_cli_exits_1_when_a_part_is_held(tmp_path: Path) -> None:
    _cache(tmp_path)
    held = data_cache.claim(tmp_path, "s3rver-1")
    assert held is not None
    try:
        done = memharness("cache", "clear", "servers", "--cache-dir", str(tmp_path), cwd=tmp_path)
    finally:
        held.release()
    assert done.returncode == 1
    assert "left s3rver-1: a running memharness session holds it" in done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("clear", "bogus"), "no cache part 'bogus'"),
        (("list", "fixtures"), "cache list takes no PART"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    done = memharness("cache", *args, "--cache-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert expected in one_line_error(done)
