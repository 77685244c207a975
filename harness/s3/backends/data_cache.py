"""A launched server's data directory kept in the cache between sessions, one session at a time.

Uploading the fixtures and their copies for concurrent workers is most of what a session on
s3rver does before it measures anything (about 100 s for the seed matrix), so a server whose
objects are plain files keeps its data directory under ``<cache>/servers/<name>-<version>/data``:
the directory is keyed by the server and the version that wrote it (its file layout), and the
objects in it by what they hold (a fixture's key names its size, seed and page size, its
metadata its sha256, which the session checks before it uses an object).

One session at a time: the first takes an exclusive ``flock`` on ``lock`` beside the data
directory and holds it until its server stops (the kernel drops it when the process dies, so a
killed session leaves no stale lock). A second session at the same time does not wait: it gets
``None`` and runs its server on a private temp directory, as every session did before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

from memharness_s3.paths import tree_size

SERVERS_DIR = "servers"
DATA_DIR = "data"
LOCK_FILE = "lock"
LEDGER_FILE = "verified.json"


class CachedDataDir:
    """The locked data directory of one server kind in the cache; :meth:`release` unlocks it."""

    def __init__(self, home: Path, lock_fd: int) -> None:
        self.home = home
        self._lock_fd: int | None = lock_fd

    @property
    def path(self) -> Path:
        """The directory the server stores its objects in."""
        return self.home / DATA_DIR

    @property
    def ledger_path(self) -> Path:
        """Where the objects read back from this directory are recorded (``readback_ledger``)."""
        return self.home / LEDGER_FILE

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None


def claim(cache_root: Path, cache_key: str) -> CachedDataDir | None:
    """Lock and return the cached data directory for ``cache_key``; None when another session
    holds it or the cache cannot hold it (not writable), so the caller uses a temp directory."""
    home = cache_root / SERVERS_DIR / cache_key
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / DATA_DIR).mkdir(mode=0o700, exist_ok=True)
        fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return CachedDataDir(home, fd)


def stored_bytes(cache_root: Path, cache_key: str) -> int:
    """The bytes the cached data directory of ``cache_key`` holds now (0 when there is none)."""
    return tree_size(cache_root / SERVERS_DIR / cache_key / DATA_DIR)[1]


def disk_free(path: Path) -> int:
    """Free bytes on the filesystem ``path`` is (or, not made yet, would be) on."""
    for candidate in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(candidate).free
    return 0
