"""``limits.jsonl``: what ``memharness limits`` found, one line per search.

A search is one strategy at one concurrency under one memory limit and its scope; its line
holds the largest size that had no kill in N tries, the smallest that had one, the kill rate
there and every probe. The probes' own runs are ordinary lines of ``results.jsonl`` beside it.
Lines are appended whole and fsynced as each search ends (an interrupted search too, saying
so), and read back checked field by field: a results directory can come from anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from memharness_s3.analysis.safe_size import Probe, SearchOutcome
from memharness_s3.errors import UsageError
from memharness_s3.model.records import MEMORY_SCOPES
from memharness_s3.printable import printable

LIMITS_FILE = "limits.jsonl"
MAX_LINE_CHARS = 1_000_000
MAX_PROBES = 1000
"""Probes one line may hold: a search takes about ten."""
MAX_TEXT = 2000
MAX_NUMBER = 10**18


@dataclass(frozen=True)
class SizeLimit:
    """One search's answer: up to which object size the strategy was never killed."""

    strategy: str
    concurrency: int
    memory_limit_bytes: int
    memory_scope: str
    """What the limit caps: ``worker`` (each worker) or ``node`` (the workers together)."""
    tries: int
    """Runs of the case at each size tried."""
    min_size_bytes: int
    max_size_bytes: int
    largest_ok_bytes: int | None
    """The largest size tried with no kill in ``tries`` runs; None if even the smallest was
    killed."""
    smallest_killed_bytes: int | None
    """The smallest size tried with a kill; None when nothing was killed up to the largest size
    tried."""
    killed_tasks: int | None = None
    """Workers killed at ``smallest_killed_bytes``, out of ``tasks`` (the kill rate there)."""
    tasks: int | None = None
    stopped: str | None = None
    """Why the search ended before its resolution (an interrupt, a run neither ok nor killed);
    None when it ran to the end."""
    backend: str = ""
    executor: str = "local"
    pool: str = "processes"
    process: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    """The strategy's parameters, defaults included."""
    env: dict[str, Any] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)
    """Every size tried, in the order tried."""

    @property
    def unlimited(self) -> bool:
        """Nothing killed up to the largest size, and the search ran to the end."""
        return (
            self.stopped is None
            and self.smallest_killed_bytes is None
            and self.largest_ok_bytes == self.max_size_bytes
        )


def size_limit(outcome: SearchOutcome, **fields: Any) -> SizeLimit:
    """The line of a finished (or stopped) search; ``fields`` describe the search."""
    at_kill = outcome.probe_at(outcome.smallest_killed_bytes)
    return SizeLimit(
        largest_ok_bytes=outcome.largest_ok_bytes,
        smallest_killed_bytes=outcome.smallest_killed_bytes,
        killed_tasks=at_kill.killed_tasks if at_kill else None,
        tasks=at_kill.tasks if at_kill else None,
        stopped=outcome.stopped,
        probes=list(outcome.probes),
        **fields,
    )


def to_line(limit: SizeLimit) -> str:
    """One JSON object on one line (what ``limits --json`` prints and ``limits.jsonl`` holds)."""
    return json.dumps(dataclasses.asdict(limit), sort_keys=True, separators=(",", ":"))


def append(out_dir: Path, limit: SizeLimit) -> None:
    """Append ``limit`` to ``out_dir/limits.jsonl``, whole, flushed and fsynced."""
    fd = os.open(
        out_dir / LIMITS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644
    )
    try:
        os.write(fd, (to_line(limit) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def load(directory: Path) -> list[SizeLimit]:
    """The searches in ``directory/limits.jsonl`` ([] when there is none); UsageError naming the
    file, line and field when a line is not one."""
    path = directory / LIMITS_FILE
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link: memharness never reads through one")
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    limits = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            limits.append(_parse(line))
        except (ValueError, TypeError, RecursionError) as exc:
            raise UsageError(
                f"{path}:{number}: not a memharness limits line ({printable(str(exc), 200)})"
            ) from None
    return limits


def _parse(line: str) -> SizeLimit:
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"a line of {len(line):,} characters")
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    probes = data.get("probes", [])
    if not isinstance(probes, list) or len(probes) > MAX_PROBES:
        raise ValueError(f"'probes' must be a list of at most {MAX_PROBES} probes")
    fields = {k: v for k, v in data.items() if k in _HINTS and k != "probes"}
    _check_fields(fields, _HINTS)
    checked = []
    for item in probes:
        if not isinstance(item, dict):
            raise ValueError("a probe must be a JSON object")
        known = {k: v for k, v in item.items() if k in _PROBE_HINTS}
        _check_fields(known, _PROBE_HINTS)
        checked.append(Probe(**known))
    limit = SizeLimit(**fields, probes=checked)
    if limit.memory_scope not in MEMORY_SCOPES:
        raise ValueError(f"'memory_scope' must be one of {', '.join(MEMORY_SCOPES)}")
    if limit.concurrency < 1 or limit.tries < 1:
        raise ValueError("'concurrency' and 'tries' must be 1 or more")
    return limit


_HINTS = get_type_hints(SizeLimit)
_PROBE_HINTS = get_type_hints(Probe)


def _check_fields(fields: dict[str, Any], hints: dict[str, Any]) -> None:
    for name, value in fields.items():
        if not _conforms(value, hints[name]):
            raise ValueError(f"field {name!r} has the wrong type")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise ValueError(f"field {name!r} is longer than {MAX_TEXT:,} characters")
        if isinstance(value, int) and not 0 <= value <= MAX_NUMBER:
            raise ValueError(f"field {name!r} must be from 0 to {MAX_NUMBER:,}")
        if isinstance(value, dict) and len(json.dumps(value)) > MAX_TEXT * 10:
            raise ValueError(f"field {name!r} is too long")


def _conforms(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, option) for option in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return False
