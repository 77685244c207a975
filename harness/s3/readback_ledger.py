"""Which cached objects were read back whole, and the state of their files when they were.

A read-back (``s3_objects.read_back``: HEAD with checksums, the whole GET through boto3, CRC-32 or
sha256) is what proves an object can be read as workers read it. On a server whose data directory is
kept in the cache, the same object is read back once, not every session: after a read-back that
passed, the ledger records the object (bucket, key, size, sha256), the ETag the server gave it and
the state of the files the server keeps it in (size, mtime, ctime and inode of each). A later
session skips the GET only when all of these are unchanged. A write to any of those files changes
its ctime, which no one can set back, so a cached object that was modified, truncated or replaced
since is read back again (and, if wrong, made again); what the ledger cannot see is a change the
filesystem does not record (a disk that rots under an unchanged inode).

The ledger lives beside the data directory (``backends.data_cache``) and is written whole to a
temp file and renamed over the old one, so a killed session leaves the old one or the new one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memharness_s3.model.records import ObjectRef
from memharness_s3.paths import file_state


def files_state(paths: Sequence[Path]) -> list[list[int]] | None:
    """The state of each file (``paths.file_state``), or None when one of them is missing."""
    states = []
    for path in paths:
        state = file_state(path)
        if state is None:
            return None
        states.append(state)
    return states


class ReadBackLedger:
    """The read-backs recorded in one file (:meth:`load`), checked and added to by a session."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self._entries = entries

    @classmethod
    def load(cls, path: Path) -> ReadBackLedger:
        """The ledger at ``path``; an empty one when it is missing or unreadable (everything is
        then read back again, which is always safe)."""
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            entries = {}
        return cls(path, entries if isinstance(entries, dict) else {})

    def vouches(self, ref: ObjectRef, etag: str | None, files: Sequence[Path]) -> bool:
        """Whether ``ref`` was read back whole before, with this ETag and its files unchanged."""
        entry = self._entries.get(_name(ref))
        state = files_state(files)
        return (
            etag is not None
            and state is not None
            and entry
            == {"size": ref.size_bytes, "sha256": ref.sha256, "etag": etag, "files": state}
        )

    def record(self, ref: ObjectRef, etag: str | None, files: Sequence[Path]) -> None:
        """Record that ``ref`` was just read back whole (forgotten when its state is unknown)."""
        state = files_state(files)
        if etag is None or state is None:
            self.forget(ref)
            return
        self._entries[_name(ref)] = _entry(ref, etag, state)
        self._save()

    def forget(self, ref: ObjectRef) -> None:
        if self._entries.pop(_name(ref), None) is not None:
            self._save()

    def _save(self) -> None:
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temp.write_text(json.dumps(self._entries, indent=1, sort_keys=True) + "\n")
            os.replace(temp, self.path)
        except OSError:
            # Not recorded: the next session reads the object back again, which is safe.
            temp.unlink(missing_ok=True)


def _name(ref: ObjectRef) -> str:
    return f"{ref.bucket}/{ref.key}"


def _entry(ref: ObjectRef, etag: str, state: list[list[int]]) -> dict[str, Any]:
    return {"size": ref.size_bytes, "sha256": ref.sha256, "etag": etag, "files": state}
