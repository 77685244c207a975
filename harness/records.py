"""The records that cross a process boundary, defined once.

``WorkerJob`` goes from the runner to a worker process, ``WorkerReport`` comes back from it,
and ``RunResult`` is one line of ``results.jsonl``, read by every view (table, report, gate).
This module is imported by the measured worker, so it uses the standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

STATUSES = ("ok", "error", "oom", "timeout")


@dataclass(frozen=True)
class ObjectRef:
    """An S3 object a case fetches, with what is known about its content for verification."""

    bucket: str
    key: str
    size_bytes: int
    sha256: str | None
    pages: int | None
    fixture: str | None


@dataclass(frozen=True)
class Case:
    """What to measure: one strategy fetching one object, then one processing step."""

    strategy: str
    object_name: str
    size_bytes: int
    process: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    process_params: dict[str, Any] = field(default_factory=dict)

    @property
    def case_id(self) -> str:
        """A stable identifier: equal cases get equal ids in every run."""
        text = json.dumps(
            [
                self.strategy,
                self.object_name,
                self.size_bytes,
                self.process,
                self.params,
                self.process_params,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class WorkerJob:
    """Everything one worker process needs to run a case."""

    case: Case
    object: ObjectRef
    endpoint_url: str | None
    region: str
    tmp_dir: str


@dataclass
class WorkerReport:
    """What the worker measured about itself, written as JSON when it ends."""

    interpreter_rss_bytes: int = 0
    baseline_rss_bytes: int = 0
    final_hwm_bytes: int = 0
    fetch_wall_s: float | None = None
    process_wall_s: float | None = None
    bytes_fetched: int = 0
    sha256: str | None = None
    verified: bool | None = None
    pages: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


@dataclass
class RunResult:
    """One measured worker run: one line of results.jsonl."""

    run_id: str
    case_id: str
    strategy: str
    object_name: str
    object_key: str
    size_bytes: int
    process: str
    params: dict[str, Any]
    process_params: dict[str, Any]
    status: str
    error: str | None
    error_type: str | None
    peak_rss_bytes: int | None
    peak_rss_source: str | None
    ru_maxrss_bytes: int | None
    baseline_rss_bytes: int | None
    interpreter_rss_bytes: int | None
    sampled_peak_rss_bytes: int | None
    samples: int
    wall_s: float | None
    total_wall_s: float
    throughput_mb_s: float | None
    bytes_fetched: int
    verified: bool | None
    pages: int | None
    temp_files_left: int
    temp_bytes_left: int
    exit_code: int | None
    signal: int | None
    backend: str
    started_at: str
    timeline_file: str | None
    concurrency: int = 1
    worker: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def strategy_cost_bytes(self) -> int | None:
        """Peak minus baseline: what the strategy itself cost on top of the idle worker."""
        if self.peak_rss_bytes is None or not self.baseline_rss_bytes:
            return None
        return self.peak_rss_bytes - self.baseline_rss_bytes


def to_json(record: Any) -> str:
    """Serialise a record dataclass as one line of JSON."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True, separators=(",", ":"))


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a record from a dict, ignoring keys this version does not know."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def job_from_json(text: str) -> WorkerJob:
    """Parse the JSON a runner wrote for a worker."""
    data = json.loads(text)
    return WorkerJob(
        case=from_dict(Case, data["case"]),
        object=from_dict(ObjectRef, data["object"]),
        endpoint_url=data["endpoint_url"],
        region=data["region"],
        tmp_dir=data["tmp_dir"],
    )
