"""Directories the harness writes to, checked up front so a bad one is one clear line."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from memharness_s3.errors import RunFailed, UsageError

TEMP_PREFIX = "memharness-"
"""Temp dirs of strategies and nodes are ``memharness-PID-...``: those of a process that no
longer exists are swept by the next run (``runner.sweep_stale_temp_dirs``)."""


def make_writable_dir(path: Path, what: str, hint: str = "") -> Path:
    """Create ``path`` if needed and prove it writable; raise RunFailed naming ``what``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunFailed(f"{what} {path} is not writable ({exc.strerror}){hint}") from None
    return path


def count_files(folder: Path) -> tuple[int, int]:
    """How many files are under ``folder``, and their bytes (what a strategy left behind)."""
    count = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            count += 1
            total += path.stat().st_size
    return count, total


def write_no_follow(path: Path, text: str, owned: Callable[[Path], bool] | None = None) -> None:
    """Write ``text`` to ``path``, never through a symlink and never over a file not ours.

    The text goes to a new temp file beside ``path`` (created exclusively, not following links),
    which then replaces ``path``: a symlink at ``path`` would be replaced, not followed, but is
    refused first, as is an existing file for which ``owned`` (given) says the harness did not
    write it, or anything but a regular file (UsageError). A failed write is RunFailed.
    """
    try:
        found = path.lstat()
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise RunFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    if found is not None:
        if stat.S_ISLNK(found.st_mode):
            raise UsageError(f"refusing to write {path}: it is a symbolic link")
        if not stat.S_ISREG(found.st_mode):
            raise UsageError(f"refusing to write {path}: it is not a regular file")
        if owned is not None and not owned(path):
            raise UsageError(f"refusing to write over {path}: memharness did not write it")
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.unlink(missing_ok=True)  # one a killed process with this pid left (or a link)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RunFailed(f"cannot write {path}: {exc.strerror or exc}") from None


def starts_with(path: Path, marker: bytes, within: int = 4096) -> bool:
    """Whether the first ``within`` bytes of the regular file ``path`` contain ``marker``
    (opened without following a symlink); False when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as file:
        return marker in file.read(within)


def find_symlink(folder: Path) -> Path | None:
    """The first symbolic link inside ``folder`` (at any depth, not following links), or None."""
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            if os.path.islink(os.path.join(root, name)):
                return Path(root, name)
    return None


def write_crash_log(text: str) -> Path | None:
    """Keep an internal error's traceback in a new file; its path, or None if none could be made.

    In ``$MEMHARNESS_CACHE`` (else ``$XDG_CACHE_HOME/memharness``, else ``~/.cache/memharness``)
    under ``crashes/``, else in the temp directory.
    """
    cache = os.environ.get("MEMHARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "memharness"
    )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for folder in (Path(cache) / "crashes", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f"memharness-crash-{stamp}-", suffix=".log", dir=folder
            )
        except OSError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        return Path(name)
    return None


def file_state(path: Path) -> list[int] | None:
    """``[size, mtime_ns, ctime_ns, inode]`` of a file, or None when it cannot be read.

    Equal states mean the file was not written in between: any write changes its ctime, which
    no one can set back (``utime`` sets mtime and changes ctime too). What proves a cached file
    intact once (a sha256) then need not be done again while its state stays the same.
    """
    try:
        found = os.stat(path)
    except OSError:
        return None
    return [found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino]


def tree_size(path: Path) -> tuple[int, int]:
    """Files and bytes under ``path``, links not followed; (0, 0) when it does not exist."""
    files = size = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            try:
                size += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed while walked
                continue
            files += 1
    return files, size
