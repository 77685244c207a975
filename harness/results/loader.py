"""The one reader of results directories: every line type-checked, meta.json parsed once.

Results lines and meta.json are untrusted (a results directory can come from anywhere; object
keys and error messages are free text), so every field is checked against ``RunResult``'s
annotations here, and a bad file ends in one line naming the file, the line and the field,
never in a traceback halfway through a chart or a wrong verdict. The gate, the report, the
exports and ``run --resume`` all read through :func:`load`.
"""

from __future__ import annotations

import json
import math
import types
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from memharness_s3.analysis.expectations import parse_cost_bound
from memharness_s3.errors import UsageError
from memharness_s3.records import Expectation, RunResult, from_dict
from memharness_s3.results.writer import META_FILE, RESULTS_FILE


@dataclass(frozen=True)
class Meta:
    """What meta.json says about the run, the parts the views compute with typed."""

    raw: dict[str, Any] = field(default_factory=dict)
    """meta.json as written (``{}`` when the directory has none)."""
    settings: dict[str, Any] = field(default_factory=dict)
    memory_limit_bytes: int | None = None
    expectations: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class ResultsDir:
    """A results directory as read: its runs and its meta.json."""

    path: Path
    """The directory."""
    results: list[RunResult]
    meta: Meta


def results_file(path: Path) -> Path:
    """``path/results.jsonl`` for a directory, ``path`` itself for a file."""
    return path / RESULTS_FILE if path.is_dir() else path


def load(path: Path, *, allow_empty: bool = False) -> ResultsDir:
    """Read a results directory (or its ``results.jsonl``); UsageError with one line otherwise.

    ``allow_empty``: a missing or empty results file reads as no runs (``--resume`` of a run
    killed before its first result); otherwise it is an error: there is nothing to check.
    """
    if not path.exists():
        raise UsageError(f"no results at {path}: give a results directory or its results.jsonl")
    file = results_file(path)
    if not file.is_file():
        if allow_empty and path.is_dir():
            return ResultsDir(path, [], load_meta(path))
        raise UsageError(f"no results file at {file}")
    results = read_lines(file)
    if not results and not allow_empty:
        raise UsageError(f"{file} has no runs: nothing to check")
    return ResultsDir(file.parent, results, load_meta(file.parent))


def read_lines(file: Path) -> list[RunResult]:
    """Every result line of ``file``, each checked against the schema."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read results at {file}: {exc}") from None
    hints = get_type_hints(RunResult)
    results = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = from_dict(RunResult, json.loads(line))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{file}:{number}: not a memharness result line ({exc})") from None
        for item in fields(RunResult):
            value = getattr(result, item.name)
            if not _conforms(value, hints[item.name]):
                raise UsageError(
                    f"{file}:{number}: field {item.name!r} must be {_describe(hints[item.name])}, "
                    f"got {json.dumps(value, default=str):.40}"
                )
        results.append(result)
    return results


def load_meta(directory: Path) -> Meta:
    """meta.json of ``directory``: ``Meta()`` when there is none, UsageError when it is bad."""
    path = directory / META_FILE
    if not path.is_file():
        return Meta()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a JSON object")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: 'settings' must be an object")
    limit = settings.get("memory_limit_bytes")
    if limit is not None and not _is_int(limit):
        raise UsageError(f"{path}: settings.memory_limit_bytes must be bytes")
    return Meta(raw, settings, limit, tuple(_expectations(path, settings.get("expect", []))))


def _expectations(path: Path, entries: Any) -> list[Expectation]:
    if not isinstance(entries, list):
        raise UsageError(f"{path}: settings.expect must be a list of expectations")
    names = {"strategy", "min_size_bytes", "status", "reason"}
    texts = ("process", "fault", "cost_at_least", "cost_at_most", "issue")
    expectations = []
    for index, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or not names <= set(entry)
            or not set(entry) <= names | {"max_size_bytes", "params", *texts}
            or not _is_int(entry["min_size_bytes"])
            or not all(isinstance(entry[k], str) for k in ("strategy", "status", "reason"))
            or not (entry.get("max_size_bytes") is None or _is_int(entry["max_size_bytes"]))
            or not isinstance(entry.get("params", {}), dict)
            or not all(entry.get(k) is None or isinstance(entry[k], str) for k in texts)
        ):
            raise UsageError(
                f"{path}: settings.expect[{index}] must have strategy, min_size_bytes (bytes), "
                "status and reason, and may have max_size_bytes (bytes), params (an object), "
                f"{', '.join(texts)} (strings)"
            )
        expectation = Expectation(**entry)
        for bound in (expectation.cost_at_least, expectation.cost_at_most):
            if bound is not None:
                try:
                    parse_cost_bound(bound)
                except UsageError as exc:
                    raise UsageError(f"{path}: settings.expect[{index}]: {exc}") from None
        expectations.append(expectation)
    return expectations


def _conforms(value: Any, hint: Any) -> bool:
    if get_origin(hint) in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if get_origin(hint) is dict:
        return isinstance(value, dict)
    if hint is float:
        return _is_int(value) or (isinstance(value, float) and math.isfinite(value))
    if hint is int:
        return _is_int(value)
    if hint in (bool, str):
        return isinstance(value, hint)
    return hint is Any


def _describe(hint: Any) -> str:
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(hint))
    if hint is type(None):
        return "null"
    if get_origin(hint) is dict:
        return "an object"
    return getattr(hint, "__name__", str(hint))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
