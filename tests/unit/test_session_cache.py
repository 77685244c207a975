"""s3rver's data directory kept in the cache: a second session uploads nothing, a damaged cached
object is read back and made again, two sessions at once never share it; meta.json's phases."""

from __future__ import annotations

from pathlib import Path

import pytest

from memharness_s3.s3.backends import data_cache, open_backend
from memharness_s3.s3.backends.s3rver import CACHE_KEY


@pytest.mark.integration
def test_a_session_beside_one_holding_the_cache_uses_a_temp_directory(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    held = data_cache.claim(cache, CACHE_KEY)
    assert held is not None
    try:
        with open_backend("s3rver", None, None, tmp_path, cache_root=cache) as backend:
            server = backend.launched
            assert server is not None and server.cached is None
            assert server.data_dir is not None and not server.data_dir.is_relative_to(cache)
            temp_dir = server.data_dir
        assert not temp_dir.exists()
    finally:
        held.release()
    with open_backend("s3rver", None, None, tmp_path, cache_root=cache) as backend:
        server = backend.launched
        assert server is not None and server.cached is not None
        assert server.data_dir == held.path
    assert held.path.is_dir()  # kept for the next session
