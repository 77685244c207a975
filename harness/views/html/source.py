"""The report's input: a results directory read through the one loader, and its budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memharness_s3.errors import UsageError
from memharness_s3.results.loader import ResultsDir, load

DEFAULT_BUDGET_BYTES = 512 * 2**20
"""The source document's worker limit, used when the run recorded no cap."""


@dataclass(frozen=True)
class Budget:
    """The memory budget the verdicts and safe sizes are judged against (per worker or per
    node, as each run's scope says: ``analysis.budget_scope``)."""

    bytes: int
    origin: str
    """Where the number came from, in words (shown in the report)."""


def load_source(results_dir: Path) -> ResultsDir:
    """Read ``results_dir`` through the one loader; a file or a missing path is one line."""
    if not results_dir.exists():
        raise UsageError(f"no results directory at {results_dir}")
    if not results_dir.is_dir():
        raise UsageError(f"{results_dir} is not a directory: give the results directory")
    return load(results_dir)


def resolve_budget(source: ResultsDir, override_bytes: int | None) -> Budget:
    """The budget given, else the run's memory limit, else the source document's 512 MiB."""
    if override_bytes is not None:
        return Budget(override_bytes, "given with --budget")
    if source.meta.memory_limit_bytes:
        return Budget(source.meta.memory_limit_bytes, "the run's memory limit")
    return Budget(DEFAULT_BUDGET_BYTES, "the default: the run recorded no memory limit")
