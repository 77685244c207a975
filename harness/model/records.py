"""The records that cross a process boundary, defined once.

``WorkerJob`` goes from the runner to a worker process, ``WorkerReport`` comes back from it,
and ``RunResult`` is one line of ``results.jsonl``, read by every view (table, report, gate).
This module is imported by the measured worker, so it uses the standard library only.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from memharness_s3.model.case_fields import CASE_FIELDS, with_case_fields

T = TypeVar("T")

OUTCOMES = ("ok", "error", "oom", "timeout")
"""How a strategy's run can end: what expectations and verdicts speak of."""
INFRA = "infra"
"""A run the harness's own setup broke (the backend stopped answering): never the strategy's
failure, re-run once (``memharness_s3.s3.backends.health``)."""
STATUSES = (*OUTCOMES, INFRA)
NO_FAULT = "none"
"""How an expectation names the cases run without a fault."""
POOLS = ("processes", "threads")
EXECUTORS = ("local", "celery")
FAILED_STATUSES = ("error", "oom", "timeout")
"""The ways a strategy's run can fail (``infra`` is the harness's, never the strategy's)."""
MEMORY_SCOPES = ("worker", "node")
"""What a memory limit caps: each worker process on its own, or all the workers of a node (a
container, a Celery node: main process and prefork children) together."""


def workers_of(concurrency: int, pool: str) -> int:
    """How many worker processes (and so result lines) one run has: one per fetch in a process
    pool, one running every fetch as a thread otherwise. Every count of a run's workers (the
    executors' split of its objects, the resume check, the decision's aggregate) is this one."""
    return concurrency if pool == "processes" else 1


@dataclass(frozen=True)
class ObjectRef:
    """An S3 object a case fetches, with what is known about its content for verification."""

    bucket: str
    key: str
    size_bytes: int
    sha256: str | None
    pages: int | None
    fixture: str | None
    crc32: int | None = None
    """CRC-32 of the whole object when known (a fixture's): what a worker verifies against
    (``checksums``); else its sha256, else only its size."""


@dataclass(frozen=True)
@with_case_fields(on_case=True)
class Case:
    """What to measure: a strategy fetching an object, then a processing step, N at a time.

    With ``pool="processes"`` the case runs ``concurrency`` worker processes at once (a prefork
    pool); with ``pool="threads"`` one worker process runs ``concurrency`` fetches as threads.
    Each fetch gets its own copy of the object unless ``shared_object`` is set. ``fault`` is a
    ``--fault`` spec (``memharness_s3.s3.faults.spec``) injected between the workers and S3, or
    None.
    ``executor`` says where the fetches run: ``local`` (a fresh worker process per run) or
    ``celery`` (tasks in long-lived prefork children); ``executor_params`` are the settings of
    the Celery nodes that change what is measured (``soak``, ``max_memory_per_child`` ...).
    """

    strategy: str
    object_name: str
    size_bytes: int
    process: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    process_params: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1
    pool: str = "processes"
    shared_object: bool = False
    memory_limit_bytes: int | None = None
    memray: bool = False
    fault: str | None = None
    executor: str = "local"
    executor_params: dict[str, Any] = field(default_factory=dict)
    memory_scope: str = "worker"
    """What ``memory_limit_bytes`` caps (:data:`MEMORY_SCOPES`): each worker, or the node."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables set for the workers (``MALLOC_ARENA_MAX``: ``2`` ...)."""

    @property
    def workers(self) -> int:
        """How many worker processes (and so result lines) one run of the case has."""
        return workers_of(self.concurrency, self.pool)


@dataclass(frozen=True)
class Expectation:
    """Runs of ``strategy`` on objects of at least ``min_size_bytes`` should end ``status``.

    The optional fields narrow which cases are covered (an object size range, strategy
    parameters, a processing step, a fault spec or ``"none"``) and bound what an ok run costs,
    ``peak - baseline``: ``cost_at_least`` / ``cost_at_most`` are texts such as ``"0.9 x
    object"``, ``"2 x part_size"`` (a parameter of the strategy) or ``"64MiB"``
    (``analysis.expectations``).
    ``issue`` names the upstream issue the expectation reproduces.
    """

    strategy: str
    min_size_bytes: int
    status: str
    reason: str
    max_size_bytes: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    process: str | None = None
    fault: str | None = None
    cost_at_least: str | None = None
    cost_at_most: str | None = None
    issue: str | None = None

    def matches(self, strategy: str, size_bytes: int) -> bool:
        """Whether a run of ``strategy`` on an object of ``size_bytes`` is in the size range."""
        return (
            strategy == self.strategy
            and size_bytes >= self.min_size_bytes
            and (self.max_size_bytes is None or size_bytes <= self.max_size_bytes)
        )

    def covers(
        self,
        strategy: str,
        size_bytes: int,
        params: dict[str, Any],
        process: str,
        fault: str | None,
    ) -> bool:
        """Whether a case with these fields is covered: ``matches`` and every narrowing field."""
        return (
            self.matches(strategy, size_bytes)
            and all(params.get(name) == value for name, value in self.params.items())
            and (self.process is None or process == self.process)
            and (self.fault is None or (fault or NO_FAULT) == self.fault)
        )

    @property
    def bounds_cost(self) -> bool:
        return self.cost_at_least is not None or self.cost_at_most is not None


@dataclass(frozen=True)
class WorkerJob:
    """Everything one worker process needs: its case and the object each of its fetches gets."""

    case: Case
    strategy_target: str
    """The strategy class as ``module:Class`` (the parent resolved its entry point)."""
    objects: list[ObjectRef]
    endpoint_url: str | None
    region: str
    tmp_dir: str
    service_endpoints: dict[str, str] = field(default_factory=dict)
    memray_file: str | None = None


@dataclass
class FetchReport:
    """One fetch inside a worker: timings, what was got, and how it checked out."""

    fetch_wall_s: float | None = None
    process_wall_s: float | None = None
    bytes_fetched: int = 0
    sha256: str | None = None
    crc32: int | None = None
    verified: bool | None = None
    pages: int | None = None
    temp_bytes_after_fetch: int = 0
    retries: int = 0
    """botocore's retries of the calls that named this fetch's object (fetches that share an
    object in one worker each count all of that object's retries)."""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


@dataclass
class WorkerReport:
    """What the worker measured about itself, written as JSON when it ends."""

    interpreter_rss_bytes: int = 0
    baseline_rss_bytes: int = 0
    final_hwm_bytes: int = 0
    retries: int = 0
    """Every retry botocore made in this worker, on any client and call."""
    fetches: list[FetchReport] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    node: str | None = None
    """The Celery node that ran the task (None for a local worker process)."""
    child_pid: int | None = None
    task_index: int | None = None
    """How many tasks this prefork child had run before this one (0: a fresh child)."""
    retained_rss_bytes: int | None = None
    """The child's RSS after the task, its fetched data dropped: what it keeps for the next."""
    recycled: str | None = None
    """Why Celery replaces the child after this task (``max_memory_per_child``), or None."""
    timeline: list[tuple[float, int]] = field(default_factory=list)
    """RSS samples of the child taken by its node from outside, during the task."""
    memory_limit_bytes: int | None = None
    """The cap the node runs under (the whole node: main process and children)."""
    cap_enforcement: str | None = None
    temp_files_left: int = 0
    temp_bytes_left: int = 0


@dataclass(frozen=True)
class FetchTask:
    """One Celery task: which strategy fetches which objects, and the case it measures.

    It names a strategy (resolved from the node's own registry) and objects; it carries no code,
    no module path and no file path: the node makes its own temp dir.
    """

    run_id: str
    case: Case
    objects: list[ObjectRef]


HOST_REPORTED_NOTABLE_BYTES = 64 * 2**20
"""Memory handed back to a VM's host during a run (``host_reported_bytes``) from which the run
counts as one the host slowed; below it, nothing a run writes waits on the host for long."""


@dataclass(slots=True)  # views hold 100,000s: without slots each holds a dict of ~70 entries
@with_case_fields()
class RunResult:
    """One measured worker process: one line of results.jsonl.

    The case-level numbers (``aggregate_peak_rss_bytes``, ``min_available_bytes``) are the same
    on every line of one run of a case (same ``group_id``).
    """

    run_id: str
    group_id: str
    case_id: str
    repeat: int
    strategy: str
    object_name: str
    object_key: str
    size_bytes: int
    process: str
    params: dict[str, Any]
    process_params: dict[str, Any]
    concurrency: int
    pool: str
    shared_object: bool
    worker: int
    status: str
    backend: str
    started_at: str
    error: str | None = None
    error_type: str | None = None
    peak_rss_bytes: int | None = None
    peak_rss_source: str | None = None
    ru_maxrss_bytes: int | None = None
    baseline_rss_bytes: int | None = None
    interpreter_rss_bytes: int | None = None
    sampled_peak_rss_bytes: int | None = None
    samples: int = 0
    wall_s: float | None = None
    process_wall_s: float | None = None
    """The processing step's wall time after the fetch (the slowest of the worker's objects);
    None when no step ran or a fetch failed before it."""
    total_wall_s: float = 0.0
    throughput_mb_s: float | None = None
    wire_mb_s: float | None = None
    """The raw GET throughput of this object from this endpoint, no SDK (``harness/wire.py``):
    the yardstick ``throughput_mb_s`` is read against. None when it could not be measured."""
    dirty_bytes_at_start: int | None = None
    """``Dirty`` in /proc/meminfo when the run started, after the runner's ``sync``: dirty pages
    left by an earlier run throttle this run's writes, so every run starts flushed."""
    writeback_bytes_at_start: int | None = None
    host_reported_bytes: int | None = None
    """Memory this virtual machine handed back to its host while the run ran (free page
    reporting, ``execution.host_memory``): a run's page-cache writes then wait for the host to
    supply pages again. One figure per run, on each of its lines; None where the kernel does
    not count it."""
    bytes_fetched: int = 0
    verified: bool | None = None
    pages: int | None = None
    temp_files_left: int = 0
    temp_bytes_left: int = 0
    temp_peak_bytes: int = 0
    memory_limit_bytes: int | None = None
    memray: bool = False
    cap_enforcement: str | None = None
    oom_at_rss_bytes: int | None = None
    cgroup_peak_bytes: int | None = None
    aggregate_peak_rss_bytes: int | None = None
    min_available_bytes: int | None = None
    heap_peak_bytes: int | None = None
    memray_file: str | None = None
    flamegraph_file: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    fault: str | None = None
    retries: int = 0
    fault_injected: int | None = None
    """How many times the fault proxy acted during the run: errors answered, responses delayed,
    bodies paced or cut. One count per run of a case, on each of its lines; None without a fault
    or when the proxy could not be asked."""
    timeline_file: str | None = None
    executor: str = "local"
    executor_params: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    """Celery only, as in ``WorkerReport``: the node, child, the child's task count before this
    task, its RSS after it, why it was recycled, and how many times the task was delivered."""
    child_pid: int | None = None
    task_index: int | None = None
    retained_rss_bytes: int | None = None
    recycled: str | None = None
    deliveries: int | None = None
    memory_scope: str = "worker"
    env: dict[str, str] = field(default_factory=dict)
    node_charged_peak_bytes: int | None = None
    """The node's resident peak as the kernel charges it (the case's workers for the local
    executor, the Celery node's main process and children), sampled during the run: the cgroup's
    ``anon`` (v2) or ``total_rss`` (v1), page cache excluded; without a cgroup the sum of the
    processes' PSS. The same on every line of one run."""
    node_charged_source: str | None = None
    """Where that figure was read: ``cgroup-anon``, ``cgroup-total_rss`` or ``pss-sum``."""
    node_rss_sum_peak_bytes: int | None = None
    """The largest plain sum of the node's processes' RSS (counts pages a forked child shares
    with its parent once per child)."""
    node_idle_bytes: int | None = None
    """The node's charged figure just before the run: its idle floor."""
    killed_pid: int | None = None
    """The PID of the process the kernel killed (an ``oom`` line), as the node saw it die."""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_case(cls, case: Case, repeat: int, worker: int, **fields: Any) -> RunResult:
        """A result with the case's own fields (``case_fields``) filled in from ``case``.

        ``fields`` include ``case_id``: the digest of the case's identity, which also depends on
        the object and the backend (``analysis.identity.key_of_case``).
        """
        own = {field.name: getattr(case, field.name) for field in CASE_FIELDS if field.on_case}
        return cls(repeat=repeat, worker=worker, object_name=case.object_name, **own, **fields)

    @property
    def strategy_cost_bytes(self) -> int | None:
        """Peak minus baseline: what the strategy itself cost on top of the idle worker."""
        if self.peak_rss_bytes is None or not self.baseline_rss_bytes:
            return None
        return self.peak_rss_bytes - self.baseline_rss_bytes


def of_wire(result: RunResult) -> float | None:
    """The run's throughput as a share of its object's raw GET throughput (``wire_mb_s``)."""
    if not result.throughput_mb_s or not result.wire_mb_s:
        return None
    return result.throughput_mb_s / result.wire_mb_s


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
        strategy_target=data["strategy_target"],
        objects=[from_dict(ObjectRef, item) for item in data["objects"]],
        endpoint_url=data["endpoint_url"],
        region=data["region"],
        tmp_dir=data["tmp_dir"],
        service_endpoints=dict(data.get("service_endpoints", {})),
        memray_file=data.get("memray_file"),
    )


def report_from_json(text: str) -> WorkerReport:
    """Parse the JSON a worker wrote about itself."""
    return report_from_dict(json.loads(text))


def report_from_dict(data: dict[str, Any]) -> WorkerReport:
    """A worker's report from its decoded JSON (a Celery task's return value)."""
    report = from_dict(WorkerReport, data)
    report.fetches = [from_dict(FetchReport, item) for item in data.get("fetches", [])]
    report.timeline = [(float(t), int(rss)) for t, rss in data.get("timeline", [])]
    return report
