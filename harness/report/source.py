"""The report's input: a results directory, loaded once and checked before anything is drawn.

Results lines and meta.json are untrusted (a results dir can come from anywhere, object keys and
error messages are free text), so every field the report computes with is type-checked here and
a bad file ends in one line naming it, never in a traceback halfway through a chart.
"""

from __future__ import annotations

import json
import math
import types
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from memharness_s3.errors import UsageError
from memharness_s3.records import Expectation, RunResult
from memharness_s3.results import META_FILE, RESULTS_FILE, read_results

DEFAULT_BUDGET_BYTES = 512 * 2**20
"""The source document's worker limit, used when the run recorded no cap."""


@dataclass(frozen=True)
class Budget:
    """The per-worker memory budget the verdicts and safe sizes are judged against."""

    bytes: int
    origin: str
    """Where the number came from, in words (shown in the report)."""


@dataclass(frozen=True)
class ReportSource:
    """Everything the report shows, as read from one results directory."""

    results_dir: Path
    results: list[RunResult]
    meta: dict[str, Any]
    """meta.json as written by the run, or ``{}`` when the directory has none."""
    memory_limit_bytes: int | None
    expectations: list[Expectation]


def load_source(results_dir: Path) -> ReportSource:
    """Read and check ``results_dir``; raise UsageError with one line for anything unusable."""
    if not results_dir.exists():
        raise UsageError(f"no results directory at {results_dir}")
    if not results_dir.is_dir():
        raise UsageError(f"{results_dir} is not a directory: give the results directory")
    results_file = results_dir / RESULTS_FILE
    results = read_results(results_file)
    if not results:
        raise UsageError(f"{results_file} has no runs")
    _check_types(results_file, results)
    meta = _read_meta(results_dir / META_FILE)
    settings = meta.get("settings", {})
    if not isinstance(settings, dict):
        raise UsageError(f"{results_dir / META_FILE}: 'settings' must be an object")
    limit = settings.get("memory_limit_bytes")
    if limit is not None and not _is_int(limit):
        raise UsageError(f"{results_dir / META_FILE}: settings.memory_limit_bytes must be bytes")
    return ReportSource(
        results_dir=results_dir,
        results=results,
        meta=meta,
        memory_limit_bytes=limit,
        expectations=_expectations(results_dir / META_FILE, settings.get("expect", [])),
    )


def resolve_budget(source: ReportSource, override_bytes: int | None) -> Budget:
    """The budget given, else the run's memory limit, else the source document's 512 MiB."""
    if override_bytes is not None:
        return Budget(override_bytes, "given with --budget")
    if source.memory_limit_bytes:
        return Budget(source.memory_limit_bytes, "the run's per-worker memory limit")
    return Budget(DEFAULT_BUDGET_BYTES, "the default: the run recorded no memory limit")


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return meta


def _expectations(path: Path, entries: Any) -> list[Expectation]:
    if not isinstance(entries, list):
        raise UsageError(f"{path}: settings.expect must be a list")
    expectations = []
    for index, entry in enumerate(entries):
        try:
            expectation = Expectation(**entry)
        except TypeError:
            expectation = None
        if expectation is None or not (
            isinstance(expectation.strategy, str)
            and _is_int(expectation.min_size_bytes)
            and isinstance(expectation.status, str)
            and isinstance(expectation.reason, str)
        ):
            raise UsageError(
                f"{path}: settings.expect[{index}] must have strategy, min_size_bytes, status "
                "and reason"
            )
        expectations.append(expectation)
    return expectations


def _check_types(path: Path, results: list[RunResult]) -> None:
    """Check every field against RunResult's annotations; name the line of the first misfit."""
    hints = get_type_hints(RunResult)
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    for number, result in zip(numbers, results, strict=True):
        for field in fields(RunResult):
            value = getattr(result, field.name)
            if not _conforms(value, hints[field.name]):
                raise UsageError(
                    f"{path}:{number}: field {field.name!r} has the wrong type "
                    f"({type(value).__name__}: {value!r:.40})"
                )


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
