"""What a run measures, defined once: each setting is a flag of ``memharness run`` and a key of a
matrix file's ``[matrix]`` table, parsed and checked by the same code either way.

``SETTINGS`` is the table; the CLI's flags (``commands/run.py``), the matrix reader
(``matrix.py``), ``--resume``'s refusal of plan options and meta.json's record of the settings are
all derived from it, so a new setting is one row here and one field of :class:`RunSettings`.
The settings of a Celery node (rows with ``node_help``, :data:`NODE_SETTINGS`) are also the flags
of ``memharness worker``, parsed by the same kinds, and the flags the run gives the nodes it
launches (:meth:`RunSettings.node_argv`); those that are Celery settings reach the node's app
by name (``celery_conf``), and those that change what a task measures are the case's
``executor_params``.
Strategy parameters (``--param`` / ``[params.NAME]``) and expected failures (``[[expect]]``) have
shapes of their own and stay with the matrix reader.

Messages name the setting as the user wrote it: ``--repeat`` on the command line, ``'repeat'``
in a matrix file (where the reader adds the file and line).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memharness_s3.config import registry
from memharness_s3.config.bounds import (
    MAX_CONCURRENCY,
    MAX_LIST,
    MAX_REPEAT,
    MAX_SECONDS,
    MAX_WORKER_RUNS,
)
from memharness_s3.config.sizes import parse_size
from memharness_s3.errors import UsageError
from memharness_s3.execution.local.measure import DEFAULT_SAMPLE_INTERVAL_S
from memharness_s3.fixtures.catalog import DEFAULT_RUN_SIZES
from memharness_s3.model.records import EXECUTORS, MEMORY_SCOPES, POOLS, Expectation, workers_of
from memharness_s3.s3.backends import BACKENDS
from memharness_s3.s3.faults.spec import parse_fault_list
from memharness_s3.s3.fixture_cache import resolve_fixture_size
from memharness_s3.strategies.processing import DEFAULT_SPLIT_PART_BYTES, PROCESS_STEPS


@dataclass(frozen=True)
class RunSettings:
    """A run's settings: the command line's or a matrix file's, with defaults for the rest."""

    sizes: list[tuple[str, int]]
    strategies: list[str]
    concurrency: list[int] = field(default_factory=lambda: [1])
    pool: str = "processes"
    shared_object: bool = False
    memory_limit_bytes: int | None = None
    process: str | list[str] = "none"
    """The step after fetching, or a list of steps, each its own set of cases."""
    split_part_bytes: int = DEFAULT_SPLIT_PART_BYTES
    repeat: int = 1
    timeout_s: float | None = None
    """The wall-clock limit of every run; None: each run's own, scaled to its object's size and
    wire speed (``run_limit``)."""
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S
    """How often the parent samples each worker's RSS for the timeline (not for the peak)."""
    backend: str | None = None
    """None: the command line's ``--backend`` (or its default)."""
    memray: bool = False
    settle_host_memory: bool = False
    """Before every run, wait until a VM's freed memory has gone back to its host
    (``execution.host_memory``)."""
    faults: list[str | None] = field(default_factory=lambda: [None])
    """Fault specs, each its own set of cases; None is the run without a fault."""
    params: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)
    """Per-strategy overrides as text, as ``registry.parse_param_overrides`` returns them; a
    matrix file's list of values is a list of texts, each its own set of cases."""
    expect: list[Expectation] = field(default_factory=list)
    executor: str = "local"
    nodes: int = 1
    """Celery nodes the run starts on this machine (0: only nodes already on the broker)."""
    soak: int | None = None
    """Celery: keep the nodes' children from run to run (``isolation`` ``soak``), each run of a
    case this many tasks in sequence in them; None: a fresh pool for every run, one task each."""
    max_memory_per_child_bytes: int | None = None
    max_tasks_per_child: int | None = None
    acks_late: bool = False
    reject_on_worker_lost: bool = False
    memory_scope: str | None = None
    """What ``memory_limit_bytes`` caps: ``worker`` or ``node``; None: the executor's own
    (:attr:`scope`)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables set for the workers (the Celery nodes' processes)."""

    @property
    def tasks_per_run(self) -> int:
        """How many tasks in sequence each run of a case is (Celery's ``soak``)."""
        return self.soak or 1

    @property
    def isolation(self) -> str:
        """``fresh``: every run of a case starts on fresh workers (a local worker process, a
        restarted Celery pool); ``soak``: Celery's children live on from case to case."""
        return "fresh" if self.soak is None else "soak"

    @property
    def scope(self) -> str:
        """The memory scope of the run's cases: as given, else ``node`` for Celery (a node's
        children share its cgroup) and ``worker`` for the local executor."""
        if self.memory_scope is not None:
            return self.memory_scope
        return "node" if self.executor == "celery" else "worker"

    def executor_params(self) -> dict[str, Any]:
        """The node settings that change what a Celery task measures, those not at default."""
        if self.executor == "local":
            return {}
        return {setting.key: getattr(self, setting.field) for setting in self.celery_only()}

    def celery_only(self) -> list[Setting]:
        """The settings of Celery's that are off their defaults (``executor_param``)."""
        defaults = {item.name: item.default for item in dataclasses.fields(RunSettings)}
        return [
            setting
            for setting in SETTINGS
            if setting.executor_param and getattr(self, setting.field) != defaults[setting.field]
        ]

    def node_argv(self) -> list[str]:
        """The ``memharness worker`` flags of the node settings (``node_help``) not at default,
        as the run passes them to the nodes it launches."""
        argv: list[str] = []
        for setting in NODE_SETTINGS:
            value = getattr(self, setting.field)
            if value is True:
                argv.append(setting.option)
            elif value not in (None, False):
                argv += [setting.option, str(value)]
        return argv


def default_settings(with_sizes: bool = True) -> RunSettings:
    """What ``memharness run`` measures with no options (no sizes when objects are given)."""
    sizes = [resolve_fixture_size(name) for name in DEFAULT_RUN_SIZES] if with_sizes else []
    return RunSettings(sizes=sizes, strategies=registry.default_strategies())


def to_meta(settings: RunSettings) -> dict[str, Any]:
    """The settings as meta.json records them."""
    return dataclasses.asdict(settings)


def from_meta(data: dict[str, Any]) -> RunSettings:
    """The settings meta.json recorded (``--resume``); TypeError or ValueError when malformed."""
    fields = dict(data)
    fields["sizes"] = [(str(name), int(size)) for name, size in fields["sizes"]]
    fields["expect"] = [Expectation(**item) for item in fields.get("expect", [])]
    return RunSettings(**fields)


def worker_runs(settings: RunSettings) -> int:
    """How many worker runs ``settings`` plan at most (before a resume skips any): repeats x
    cases x the workers of each case."""
    cases = len(settings.sizes) or 1  # --key objects are counted as one size
    cases *= len(settings.strategies) * len(settings.faults)
    cases *= len(settings.process) if isinstance(settings.process, list) else 1
    for params in settings.params.values():
        for value in params.values():
            cases *= len(value) if isinstance(value, list) else 1
    workers = sum(workers_of(concurrency, settings.pool) for concurrency in settings.concurrency)
    return settings.repeat * settings.tasks_per_run * cases * workers


def check_bounds(settings: RunSettings) -> None:
    """UsageError when the settings plan more worker runs than :data:`MAX_WORKER_RUNS`."""
    runs = worker_runs(settings)
    if runs > MAX_WORKER_RUNS:
        raise UsageError(
            f"this run would plan {runs:,} worker runs (repeat x soak x cases x workers), more "
            f"than the {MAX_WORKER_RUNS:,} one run may: lower repeat, sizes, strategies or "
            "concurrency, or split it into several runs"
        )


# ---------------------------------------------------------------------------------------------
# Kinds of value: how each is checked (a TOML value) and read from the command line (text)


def show(value: Any) -> str:
    """A value as it would appear in TOML, near enough for a message."""
    return json.dumps(value, default=str)


def suggest(name: str, options: Sequence[str], quote: str = "'{}'") -> str:
    """`` (did you mean 'x'?)`` for the closest option, or nothing."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {quote.format(close[0])}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Kind:
    """How one kind of setting is checked; ``name`` is how messages call the setting."""

    flag_action: str | None = None
    """argparse's action for the flag (``store_true``, ``append``), None for one value."""
    flag_const: str | None = None
    """The value of the flag given alone, when its value may be left out (``--soak``)."""
    metavar = "SPEC"
    """What the help calls one value of an ``append`` flag."""

    def check(self, name: str, value: Any) -> Any:
        """The typed value of ``value`` as a matrix file (TOML) gives it."""
        raise NotImplementedError

    def from_text(self, name: str, text: Any) -> Any:
        """The typed value of what argparse collected for the flag."""
        return self.check(name, text)


class _StringList(Kind):
    def __init__(self, example: str) -> None:
        self.example = example

    def items(self, name: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise UsageError(
                f"{name} must be a list of strings such as {self.example}, got {show(value)}"
            )
        _bounded(name, value)
        if not value:
            raise UsageError(f"{name} is empty: list at least one")
        if not all(item.strip() for item in value):
            raise UsageError(f"{name} has an empty entry")
        return [item.strip() for item in value]

    def from_text(self, name: str, text: Any) -> Any:
        return self.check(name, [item for item in str(text).split(",") if item.strip()])


def _bounded(name: str, items: Sequence[object]) -> None:
    if len(items) > MAX_LIST:
        raise UsageError(f"{name} lists {len(items):,} entries; at most {MAX_LIST} are taken")


def _no_duplicates(name: str, items: Sequence[object]) -> None:
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise UsageError(f"{name} lists {show(item)} twice")
        seen.add(item)


class SizeNames(_StringList):
    """Fixture sizes: catalog names or size strings, as ``(name, bytes)``."""

    def check(self, name: str, value: Any) -> list[tuple[str, int]]:
        try:
            sizes = [resolve_fixture_size(item) for item in self.items(name, value)]
        except UsageError as exc:
            if str(exc).startswith(name):
                raise
            raise UsageError(f"{name}: {exc}") from None
        first: dict[int, str] = {}
        for label, size in sizes:
            if size in first:
                same = "twice" if first[size] == label else f"twice ({first[size]!r} and {label!r})"
                raise UsageError(
                    f"{name} lists {size:,} bytes {same}: each size is one set of cases"
                )
            first[size] = label
        return sizes


class StrategyNames(_StringList):
    """Registered strategy names."""

    def check(self, name: str, value: Any) -> list[str]:
        items = self.items(name, value)
        try:
            names = registry.parse_strategy_list(",".join(items))
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}") from None
        _no_duplicates(name, names)
        return names


class FaultSpecs(_StringList):
    """``--fault`` specs, each its own set of cases; ``none`` is the run without a fault."""

    flag_action = "append"

    def check(self, name: str, value: Any) -> list[str | None]:
        try:
            return parse_fault_list(self.items(name, value))
        except UsageError as exc:
            if str(exc).startswith(name):
                raise
            raise UsageError(f"{name}: {exc}") from None

    def from_text(self, name: str, text: Any) -> Any:
        return self.check(name, list(text))


class WorkerCounts(Kind):
    """One worker count or a list of them, each its own set of cases."""

    def check(self, name: str, value: Any) -> list[int]:
        values = value if isinstance(value, list) else [value]
        _bounded(name, values)
        if not values or not all(_is_int(item) for item in values):
            raise UsageError(
                f"{name} must be a worker count or a list of them such as [1, 4], got "
                f"{_cut(show(value))}"
            )
        for item in values:
            if item < 1:
                raise UsageError(f"concurrency {item} is not a worker count: use 1 or more")
            if item > MAX_CONCURRENCY:
                raise UsageError(
                    f"concurrency {_cut(str(item))} is more than the {MAX_CONCURRENCY} workers a "
                    "case may run at once"
                )
        _no_duplicates(name, values)
        return list(values)

    def from_text(self, name: str, text: Any) -> Any:
        items = str(text).split(",")
        _bounded(name, items)
        try:
            values = [_int(item) for item in items]
        except ValueError:
            raise UsageError(f"malformed {name} {_cut(repr(text))}: expected e.g. 1,4") from None
        return self.check(name, values)


class Choice(Kind):
    def __init__(self, choices: Sequence[str], noun: str) -> None:
        self.choices, self.noun = tuple(choices), noun

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise UsageError(
                f"{name} must be a string, one of: {', '.join(self.choices)}; got {show(value)}"
            )
        if value not in self.choices:
            raise UsageError(
                f"unknown {self.noun} {value!r}{suggest(value, self.choices)}; "
                f"choose one of: {', '.join(self.choices)}"
            )
        return value


class Steps(Kind):
    """One choice or a list of them, each its own set of cases (``process``)."""

    def __init__(self, choices: Sequence[str], noun: str) -> None:
        self.one = Choice(choices, noun)

    def check(self, name: str, value: Any) -> str | list[str]:
        if not isinstance(value, list):
            return self.one.check(name, value)
        if not value:
            raise UsageError(f"{name} is empty: list at least one")
        _bounded(name, value)
        steps = [self.one.check(name, item) for item in value]
        _no_duplicates(name, steps)
        return steps[0] if len(steps) == 1 else steps

    def from_text(self, name: str, text: Any) -> Any:
        items = [item.strip() for item in str(text).split(",") if item.strip()]
        return self.check(name, items[0] if len(items) == 1 else items)


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENV_CHARS = 4096
"""Characters of one ``--env`` value: a setting, not a file."""
RESERVED_ENV_PREFIX = "MEMHARNESS_"
"""The harness's own variables (a node's broker URL, config ...): not the user's to set."""


class EnvVars(Kind):
    """``NAME=VALUE`` pairs (a matrix file's table of strings), as a dict sorted by name."""

    flag_action = "append"
    metavar = "NAME=VALUE"

    def check(self, name: str, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise UsageError(
                f'{name} must be a table of strings such as {{ MALLOC_ARENA_MAX = "2" }}, got '
                f"{_cut(show(value))}"
            )
        _bounded(name, list(value))
        for key, text in value.items():
            if not ENV_NAME.fullmatch(key):
                raise UsageError(
                    f"{name}: {_cut(repr(key))} is not an environment variable name (letters, "
                    "digits and _, not starting with a digit)"
                )
            if key.upper().startswith(RESERVED_ENV_PREFIX):
                raise UsageError(f"{name}: {key} is the harness's own variable, not settable")
            if "\0" in text or len(text) > MAX_ENV_CHARS:
                raise UsageError(
                    f"{name}: the value of {key} must be text of at most {MAX_ENV_CHARS:,} "
                    "characters without NUL"
                )
        return dict(sorted(value.items()))

    def from_text(self, name: str, text: Any) -> Any:
        pairs: dict[str, str] = {}
        for item in list(text):
            key, sep, value = str(item).partition("=")
            if not sep:
                raise UsageError(f"{name} takes NAME=VALUE, got {_cut(repr(item))}")
            if key in pairs:
                raise UsageError(f"{name} sets {_cut(key)} twice")
            pairs[key] = value
        return self.check(name, pairs)


class Flag(Kind):
    flag_action = "store_true"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, got {show(value)}")
        return value


class Size(Kind):
    """A size string (``512MiB``) as bytes."""

    def check(self, name: str, value: Any) -> int:
        if not isinstance(value, str):
            raise UsageError(f'{name} must be a size string such as "512MB", got {show(value)}')
        try:
            return parse_size(value)
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}") from None


_MAX_DIGITS = 18
"""Digits of a whole number a setting takes: every bound below fits; more is a typo, and Python
refuses to parse more than 4,300."""


def _int(text: str) -> int:
    """A whole number written in decimal; ValueError when it is not one or is too long."""
    cleaned = text.strip()
    if len(cleaned.lstrip("+-")) > _MAX_DIGITS:
        raise ValueError(f"more than {_MAX_DIGITS} digits")
    return int(cleaned)


def _cut(text: str, limit: int = 60) -> str:
    """A value quoted in a message, cut when long (a 400-digit number is not worth echoing)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class PositiveInt(Kind):
    """A whole number from 1 to ``maximum``."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def check(self, name: str, value: Any) -> int:
        if not _is_int(value) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {_cut(show(value))}")
        if value > self.maximum:
            raise UsageError(f"{name} must be at most {self.maximum:,}, got {_cut(show(value))}")
        return int(value)

    def from_text(self, name: str, text: Any) -> Any:
        try:
            return self.check(name, _int(str(text)))
        except ValueError:
            raise UsageError(f"{name} must be a positive integer, got {_cut(repr(text))}") from None


class SoakTasks(PositiveInt):
    """``--soak`` alone (1 task per run) or ``--soak N``."""

    flag_const = "1"


class Count(Kind):
    """A whole number from 0 to ``maximum``."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def check(self, name: str, value: Any) -> int:
        if not _is_int(value) or value < 0:
            raise UsageError(f"{name} must be 0 or a positive integer, got {_cut(show(value))}")
        if value > self.maximum:
            raise UsageError(f"{name} must be at most {self.maximum:,}, got {_cut(show(value))}")
        return int(value)

    def from_text(self, name: str, text: Any) -> Any:
        try:
            return self.check(name, _int(str(text)))
        except ValueError:
            raise UsageError(
                f"{name} must be 0 or a positive integer, got {_cut(repr(text))}"
            ) from None


class Seconds(Kind):
    """A positive number of seconds, at most :data:`MAX_SECONDS`."""

    def check(self, name: str, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise UsageError(
                f"{name} must be a positive number of seconds, got {_cut(show(value))}"
            )
        if value > MAX_SECONDS:
            raise UsageError(
                f"{name} must be at most {MAX_SECONDS:g} seconds (a week), got {_cut(show(value))}"
            )
        return float(value)

    def from_text(self, name: str, text: Any) -> Any:
        try:
            value = float(str(text)) if len(str(text)) <= 40 else math.nan
        except ValueError:
            value = math.nan
        if not value > 0:  # NaN too
            raise UsageError(f"{name} must be a positive number of seconds, got {_cut(repr(text))}")
        return self.check(name, value)


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Setting:
    """One setting: its matrix key, its flag, the RunSettings field it fills, its kind."""

    key: str
    field: str
    kind: Kind
    help: str
    flag: str = ""
    """The command-line flag; ``--KEY`` with dashes when empty."""
    node_help: str = ""
    """A setting of the Celery nodes: the help of its ``memharness worker`` flag (the same
    flag, parsed by the same kind), which the run passes to the nodes it launches."""
    celery_conf: str = ""
    """The Celery setting a node sets from it (``task_acks_late``), when it is one."""
    executor_param: bool = False
    """Celery: changes what a task measures, so off its default it is part of the case
    (``Case.executor_params``, under its key)."""

    @property
    def option(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    @property
    def dest(self) -> str:
        """The attribute argparse stores the flag's value under."""
        return self.option.removeprefix("--").replace("-", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sizes",
        "sizes",
        SizeNames('["small", "250MB"]'),
        "catalog names (small, medium, large, xlarge) or sizes (KB/MB/GB decimal, KiB/MiB/GiB "
        "binary), comma-separated; default: " + ",".join(DEFAULT_RUN_SIZES),
    ),
    Setting(
        "strategies",
        "strategies",
        StrategyNames('["read-all", "chunked"]'),
        "registered strategy names, comma-separated (default: all)",
    ),
    Setting(
        "concurrency",
        "concurrency",
        WorkerCounts(),
        "worker counts, each its own set of cases (default: 1), e.g. 1,4",
    ),
    Setting(
        "pool",
        "pool",
        Choice(POOLS, "pool"),
        "processes (default: N worker processes) or threads (N threads in one)",
    ),
    Setting(
        "shared_object",
        "shared_object",
        Flag(),
        "concurrent fetches share one object (default: each gets its own copy)",
    ),
    Setting(
        "memory_limit",
        "memory_limit_bytes",
        Size(),
        "hard cap, e.g. 512MiB, on each worker or shared by the workers of a node: see "
        "--memory-scope (default: none)",
        node_help="hard cap on the whole node (a cgroup), e.g. 512MiB",
    ),
    Setting(
        "process",
        "process",
        Steps(PROCESS_STEPS, "process step"),
        "step after fetching: " + ", ".join(PROCESS_STEPS) + " (default: none); several, "
        "comma-separated, are each their own set of cases",
    ),
    Setting(
        "split_part_size",
        "split_part_bytes",
        Size(),
        "largest part the split step writes (default 100MB)",
    ),
    Setting(
        "repeat", "repeat", PositiveInt(MAX_REPEAT), "run each case this many times (default: 1)"
    ),
    Setting(
        "timeout",
        "timeout_s",
        Seconds(),
        "seconds a run may take (default: max(300, 30 x object MB x concurrency / wire MB/s), "
        "or 900 when the wire was not measured)",
    ),
    Setting(
        "sample_interval",
        "sample_interval_s",
        Seconds(),
        "seconds between RSS samples of each worker, for the timeline; the peak is the kernel's "
        f"either way (default: {DEFAULT_SAMPLE_INTERVAL_S:g})",
    ),
    Setting(
        "backend",
        "backend",
        Choice(BACKENDS, "backend"),
        "moto (default), s3rver, minio or endpoint",
    ),
    Setting("memray", "memray", Flag(), "record heap attribution with memray"),
    Setting(
        "settle_host_memory",
        "settle_host_memory",
        Flag(),
        "on a VM that hands freed memory back to its host (free page reporting), wait before "
        "every run until the run before it has (about 2 s a run): every run then starts alike",
    ),
    Setting(
        "faults",
        "faults",
        FaultSpecs('["none", "reset-mid-body@30%"]'),
        "inject a fault between workers and S3, each its own set of cases (repeatable): "
        "reset-mid-body@30%%, truncate, slowdown-503:3, error-500:2, latency:200ms, "
        "bandwidth:20MB/s, backend-kill@30%%, or none",
        flag="--fault",
    ),
    Setting(
        "executor",
        "executor",
        Choice(EXECUTORS, "executor"),
        "local (default: a fresh worker process per run) or celery (tasks on Celery prefork "
        "workers, see --broker and --nodes)",
    ),
    Setting(
        "nodes",
        "nodes",
        Count(MAX_CONCURRENCY),
        "celery: worker nodes the run starts on this machine (default 1; 0: use only nodes "
        "already attached to --broker, e.g. `memharness worker` on other machines)",
    ),
    Setting(
        "soak",
        "soak",
        SoakTasks(MAX_REPEAT),
        "celery: keep the nodes' children from case to case, in order, as long-lived workers "
        "are (default: every run of a case on a freshly restarted pool); N: each run of a case "
        "is N tasks in sequence in the same children",
        executor_param=True,
    ),
    Setting(
        "max_memory_per_child",
        "max_memory_per_child_bytes",
        Size(),
        "celery: worker_max_memory_per_child of the nodes the run starts, e.g. 300MiB",
        node_help="Celery's worker_max_memory_per_child, e.g. 300MiB",
        executor_param=True,
    ),
    Setting(
        "max_tasks_per_child",
        "max_tasks_per_child",
        PositiveInt(10**9),
        "celery: worker_max_tasks_per_child of the nodes the run starts (1: a fresh child "
        "per task)",
        node_help="Celery's worker_max_tasks_per_child",
        executor_param=True,
    ),
    Setting(
        "acks_late",
        "acks_late",
        Flag(),
        "celery: task_acks_late on the nodes the run starts",
        node_help="task_acks_late",
        celery_conf="task_acks_late",
        executor_param=True,
    ),
    Setting(
        "reject_on_worker_lost",
        "reject_on_worker_lost",
        Flag(),
        "celery: task_reject_on_worker_lost (with --acks-late: a task whose child dies is "
        "redelivered; the run revokes it after a bounded number of deliveries)",
        node_help="task_reject_on_worker_lost",
        celery_conf="task_reject_on_worker_lost",
        executor_param=True,
    ),
    Setting(
        "memory_scope",
        "memory_scope",
        Choice(MEMORY_SCOPES, "memory scope"),
        "what --memory-limit caps: worker (each worker process has the whole limit; the local "
        "default) or node (all workers of a case share it, as a container's processes do; "
        "always so with --executor celery)",
    ),
    Setting(
        "env",
        "env",
        EnvVars(),
        "set NAME=VALUE in the environment of the workers (celery: of the nodes the run "
        "starts), e.g. MALLOC_ARENA_MAX=2; part of every case (repeatable)",
    ),
)

BY_KEY = {setting.key: setting for setting in SETTINGS}
NODE_SETTINGS = tuple(setting for setting in SETTINGS if setting.node_help)
"""The settings of a Celery node: ``memharness worker``'s flags, passed to launched nodes."""
