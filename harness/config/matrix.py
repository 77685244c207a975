"""Matrix files: a whole ``memharness run`` described in TOML (``memharness run --matrix FILE``).

A matrix file has up to three parts. Only ``[matrix]`` with ``sizes`` and ``strategies`` is
required; the other keys of ``[matrix]`` (the settings table, ``memharness_s3.config.settings``, is
where they are defined, once for the file and the command line) show their defaults, unless a
comment gives another::

    [matrix]
    sizes = ["small", "medium", "750MB"]   # catalog names (small, medium, large, xlarge) or sizes
    strategies = ["read-all", "chunked"]   # registered names, as `memharness strategies` lists
    concurrency = [1, 4]       # worker counts, each its own set of cases (default: 1); 4 alone ok
    pool = "processes"         # processes: N worker processes; threads: N threads in one
    shared_object = false      # true: concurrent fetches share one object, else a copy each
    memory_limit = "512MiB"    # hard cap (default: none; omit the key for none)
    memory_scope = "worker"    # what it caps: worker (each its own; local default) or node
                               # (shared by a case's workers, as in one container; Celery's)
    env = { MALLOC_ARENA_MAX = "2" }  # set for the workers, part of every case (default: none)
    process = "none"           # after fetching: none, pages(-bytes/-mmap), text(-shrink), split
                               # (a list: each its own set of cases)
    split_part_size = "100MB"  # largest part the split step writes
    repeat = 1                 # runs per case
    timeout = 900              # seconds a run may take (default: scaled to size and wire speed)
    sample_interval = 0.01     # seconds between RSS samples of each worker (timeline only)
    backend = "moto"           # moto, s3rver, minio or endpoint (default: the command line's)
    memray = false             # record heap attribution with memray
    settle_host_memory = false # true: on a VM with free page reporting, wait ~2 s before each run
    faults = ["none", "slowdown-503:3"]  # each its own set of cases (default: none), see below

    [params.chunked]           # parameters of one strategy named in `strategies`
    chunk_size = "16MiB"       # the names and values --param chunked.chunk_size=16MiB takes
                               # a list, ["1MiB", "16MiB"], makes each value its own set of cases

    [[expect]]                 # a run expected to end with `status`; one table per expectation
    strategy = "read-all"      # a strategy named in `strategies`
    min_size = "500MB"         # applies to objects at least this big (a size or a catalog name)
    status = "oom"             # ok, error, oom or timeout
    reason = "read-all holds the whole object; it cannot fit a 512 MiB worker"

    [[expect]]                 # optional keys: which cases, and what an ok run may cost
    strategy = "chunked"
    min_size = "small"
    max_size = "1GB"           # applies to objects at most this big too
    params = { chunk_size = "16MiB" }  # only cases run with these parameter values
    process = "none"           # only cases with this processing step
    fault = "none"             # only cases with this fault ("none": those without one)
    status = "ok"              # cost bounds apply to ok runs
    cost_at_most = "2 x chunk_size"  # peak - baseline of every ok run at most 2 x a size param;
                               # or a size ("64MiB"); cost_at_least = "0.9 x object" for a trap
    issue = "none upstream"    # the upstream issue the expectation reproduces
    reason = "chunked holds one chunk at a time"

Sizes are strings: KB, MB, GB and TB are decimal, KiB, MiB, GiB and TiB binary, a bare number
("1048576") is bytes. Parameter values may be strings, numbers or true/false and mean what they
mean after ``--param``. ``faults`` are ``--fault`` specs (``harness/faults/spec.py`` lists them,
e.g. "reset-mid-body@30%", "latency:200ms"); "none" is the run without a fault. Options given on
the command line next to ``--matrix`` override the file's settings, and ``--param`` adds to
``[params]``.

Every problem with the file is reported as one line naming the file, the line and the key, e.g.
``m.toml:4: 'repeat' must be a positive integer, got "3"``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memharness_s3.analysis.expectations import parse_cost_bound
from memharness_s3.config import registry
from memharness_s3.config.bounds import MAX_LIST
from memharness_s3.config.settings import BY_KEY, RunSettings, show, suggest
from memharness_s3.config.sizes import resolve_size
from memharness_s3.errors import UsageError
from memharness_s3.model.records import NO_FAULT, OUTCOMES, Expectation
from memharness_s3.s3.faults.spec import parse_fault
from memharness_s3.strategies.processing import PROCESS_STEPS

TABLES = ("matrix", "params", "expect")
MATRIX_KEYS = tuple(BY_KEY)
EXPECT_KEYS = ("strategy", "min_size", "status", "reason")
EXPECT_OPTIONAL_KEYS = (
    "max_size",
    "params",
    "process",
    "fault",
    "cost_at_least",
    "cost_at_most",
    "issue",
)
_FIELDS = {"max_size": "max_size_bytes"}
"""Optional keys whose Expectation field is named otherwise."""


def _expectation_value(base: Expectation, key: str, value: str) -> Any:
    """The typed value of an optional expectation key given as text; UsageError if malformed."""
    if key == "max_size":
        _, size = resolve_size(value)
        if size < base.min_size_bytes:
            raise UsageError(f"{value} is below min_size")
        return size
    if key == "process":
        if value not in PROCESS_STEPS:
            raise UsageError(
                f"unknown process step {value!r}{suggest(value, PROCESS_STEPS)}; choose one of: "
                f"{', '.join(PROCESS_STEPS)}"
            )
        return value
    if key == "fault":
        return NO_FAULT if value == NO_FAULT else parse_fault(value).text
    if key in ("cost_at_least", "cost_at_most"):
        return parse_cost_bound(value, registry.load(base.strategy).params).text
    return value


def load_matrix(path: Path) -> RunSettings:
    """Read and validate the matrix file at ``path``; any problem is a one-line UsageError."""
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is read past
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read matrix file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer too long for Python to parse
        message = " ".join(str(exc).split())
        found = re.search(r"at line (\d+)", message)
        where = f"{path}:{found.group(1)}" if found else str(path)
        raise UsageError(f"{where}: invalid TOML: {message}") from None
    return _Reader(path, text).spec(data)


@dataclass(frozen=True)
class _At:
    """A place in the file: a table (dotted, "" for the top level), a key in it, an entry."""

    table: str
    key: str | None = None
    entry: int | None = None


@dataclass(frozen=True)
class _Line:
    number: int
    table: str
    entry: int | None
    key: str | None
    """The line's first key, or None for a table header."""


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""")


def _index_lines(text: str) -> list[_Line]:
    """Table headers and key lines with the table (and array entry) each belongs to."""
    lines: list[_Line] = []
    table, entry = "", None
    entries: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = ".".join(part.strip().strip("\"'") for part in header.group(2).split("."))
            entry = None
            if header.group(1) == "[[":
                entry = entries[table] = entries.get(table, -1) + 1
            lines.append(_Line(number, table, entry, None))
            continue
        key = _KEY.match(line)
        if key:
            lines.append(_Line(number, table, entry, key.group(1).strip("\"'")))
    return lines


class _Reader:
    """Validates the parsed TOML, pointing each complaint at its line in ``text``."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _index_lines(text)

    def line_of(self, at: _At) -> int | None:
        for line in self.lines:
            if at.entry is not None and line.entry != at.entry:
                continue
            if at.key is None:
                if line.key is None and (
                    line.table == at.table or line.table.startswith(at.table + ".")
                ):
                    return line.number
            elif line.table == at.table and line.key == at.key:
                return line.number
        return None

    def error(self, message: str, *places: _At) -> UsageError:
        """``message`` prefixed with the file and the line of the first of ``places`` found."""
        for at in places:
            number = self.line_of(at)
            if number is not None:
                return UsageError(f"{self.path}:{number}: {message}")
        return UsageError(f"{self.path}: {message}")

    def spec(self, data: dict[str, Any]) -> RunSettings:
        self.check_top_level(data)
        if "matrix" not in data:
            raise self.error(
                "no [matrix] table: a matrix file needs at least [matrix] with 'sizes' and "
                "'strategies'"
            )
        matrix = data["matrix"]
        if not isinstance(matrix, dict):
            raise self.error("'matrix' must be a table: write [matrix]", _At("", "matrix"))
        self.check_keys(matrix, MATRIX_KEYS, "[matrix]", _At("matrix"))
        for required in ("sizes", "strategies"):
            if required not in matrix:
                raise self.error(f"[matrix] has no {required!r}: it is required", _At("matrix"))
        values: dict[str, Any] = {}
        for key, value in matrix.items():
            setting = BY_KEY[key]
            try:
                values[setting.field] = setting.kind.check(repr(key), value)
            except UsageError as exc:
                raise self.error(str(exc), _At("matrix", key)) from None
        strategies = values["strategies"]
        return RunSettings(
            **values,
            params=self.params(data.get("params", {}), strategies),
            expect=self.expectations(data.get("expect", []), strategies),
        )

    def check_top_level(self, data: dict[str, Any]) -> None:
        for name, value in data.items():
            if name in TABLES:
                continue
            if name in MATRIX_KEYS:
                raise self.error(
                    f"{name!r} is outside any table: put it under [matrix]", _At("", name)
                )
            tables = "a matrix file has [matrix], [params.STRATEGY] and [[expect]]"
            if isinstance(value, dict) or (
                isinstance(value, list) and value and all(isinstance(i, dict) for i in value)
            ):
                raise self.error(
                    f"unknown table [{name}]{suggest(name, TABLES, '[{}]')}; {tables}",
                    _At(name),
                    _At("", name),
                )
            raise self.error(
                f"unknown key {name!r} at the top level{suggest(name, TABLES, '[{}]')}; {tables}",
                _At("", name),
            )

    def check_keys(
        self, table: dict[str, Any], known: Sequence[str], label: str, *places: _At
    ) -> None:
        """Reject the first key not in ``known``; ``places[0]`` is the table's own place."""
        for key in table:
            if key not in known:
                hint = suggest(key, known) or f"; known keys: {', '.join(known) or 'none'}"
                here = _At(places[0].table, key, places[0].entry)
                raise self.error(f"unknown key {key!r} in {label}{hint}", here, *places)

    def params(self, value: Any, strategies: list[str]) -> dict[str, dict[str, str | list[str]]]:
        if not isinstance(value, dict):
            raise self.error(
                "'params' must be tables: write [params.STRATEGY] with NAME = VALUE lines",
                _At("", "params"),
            )
        params: dict[str, dict[str, str | list[str]]] = {}
        for name, table in value.items():
            label = f"[params.{name}]"
            at = (_At(f"params.{name}"), _At("params", name))
            if name not in strategies:
                raise self.error(
                    f"{label}: strategy {name!r} is not in 'strategies'"
                    f"{suggest(name, strategies)}; params apply to this matrix's strategies",
                    *at,
                )
            if not isinstance(table, dict):
                raise self.error(
                    f"'params.{name}' must be a table: write {label} with NAME = VALUE lines", *at
                )
            cls = registry.load(name)
            self.check_keys(table, list(cls.params), label, *at)
            overrides: dict[str, str | list[str]] = {}
            for key, raw in table.items():
                where = (_At(f"params.{name}", key), *at)
                values = raw if isinstance(raw, list) else [raw]
                texts = []
                for value in values:
                    if isinstance(value, bool):
                        texts.append("true" if value else "false")
                    elif isinstance(value, str | float) or (
                        isinstance(value, int) and abs(value) < 10**18
                    ):
                        texts.append(str(value))
                    else:
                        raise self.error(
                            f"'{name}.{key}' must be a string, number or true/false, or a list of "
                            f"them, got {show(raw)}",
                            *where,
                        )
                if len(texts) > MAX_LIST:
                    raise self.error(
                        f"'{name}.{key}' lists {len(texts):,} values; at most {MAX_LIST} are taken",
                        *where,
                    )
                if not texts or len(set(texts)) != len(texts):
                    raise self.error(
                        f"'{name}.{key}': a list of values needs distinct values, got {show(raw)}",
                        *where,
                    )
                try:
                    resolved = registry.resolve_params(cls, {key: texts})[key]
                except UsageError as exc:
                    raise self.error(f"{label}: {exc}", *where) from None
                if isinstance(raw, list) and len(set(map(repr, resolved))) != len(resolved):
                    raise self.error(
                        f"'{name}.{key}': {show(raw)} names one value more than once "
                        "(written differently): each value is one set of cases",
                        *where,
                    )
                overrides[key] = texts if isinstance(raw, list) else texts[0]
            params[name] = overrides
        return params

    def expectations(self, value: Any, strategies: list[str]) -> list[Expectation]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(
                "'expect' must be an array of tables: write each entry as [[expect]]",
                _At("expect"),
                _At("", "expect"),
            )
        return [self.expectation(entry, index, strategies) for index, entry in enumerate(value)]

    def expectation(self, entry: dict[str, Any], index: int, strategies: list[str]) -> Expectation:
        label = f"[[expect]] entry {index + 1}"
        here = _At("expect", None, index)
        self.check_keys(entry, EXPECT_KEYS + EXPECT_OPTIONAL_KEYS, label, here)
        missing = [key for key in EXPECT_KEYS if key not in entry]
        if missing:
            names = ", ".join(repr(key) for key in missing)
            raise self.error(f"{label} is missing {names}; it needs {', '.join(EXPECT_KEYS)}", here)
        for key in EXPECT_KEYS:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise self.error(
                    f"{label}: {key!r} must be a non-empty string, got {show(entry[key])}",
                    _At("expect", key, index),
                    here,
                )
        strategy, status = entry["strategy"], entry["status"]
        if strategy not in strategies:
            raise self.error(
                f"{label}: strategy {strategy!r} is not in 'strategies'"
                f"{suggest(strategy, strategies)}",
                _At("expect", "strategy", index),
                here,
            )
        if status not in OUTCOMES:
            raise self.error(
                f"{label}: unknown status {status!r}{suggest(status, OUTCOMES)}; "
                f"choose one of: {', '.join(OUTCOMES)}",
                _At("expect", "status", index),
                here,
            )
        try:
            _, min_size = resolve_size(entry["min_size"])
        except UsageError as exc:
            raise self.error(
                f"{label}: 'min_size': {exc}", _At("expect", "min_size", index), here
            ) from None
        return self.narrowed(Expectation(strategy, min_size, status, entry["reason"]), entry, index)

    def narrowed(self, base: Expectation, entry: dict[str, Any], index: int) -> Expectation:
        """``base`` with the optional keys of ``entry`` (checked) applied."""
        label = f"[[expect]] entry {index + 1}"
        here = _At("expect", None, index)
        fields: dict[str, Any] = {}
        for key in EXPECT_OPTIONAL_KEYS:
            if key not in entry:
                continue
            at = (_At("expect", key, index), here)
            value = entry[key]
            if key == "params":
                fields[key] = self.expected_params(base.strategy, value, label, at)
                continue
            if not isinstance(value, str) or not value.strip():
                raise self.error(
                    f"{label}: {key!r} must be a non-empty string, got {show(value)}", *at
                )
            try:
                fields[_FIELDS.get(key, key)] = _expectation_value(base, key, value.strip())
            except UsageError as exc:
                raise self.error(f"{label}: {key!r}: {exc}", *at) from None
        expectation = dataclasses.replace(base, **fields)
        if expectation.bounds_cost and expectation.status != "ok":
            raise self.error(
                f'{label}: a cost bound applies to ok runs: give status = "ok", not '
                f"{expectation.status!r}",
                _At("expect", "status", index),
                here,
            )
        return expectation

    def expected_params(
        self, strategy: str, value: Any, label: str, at: tuple[_At, ...]
    ) -> dict[str, Any]:
        """An expectation's ``params``: values the strategy's parameters take, typed."""
        if not isinstance(value, dict) or not value:
            raise self.error(
                f"{label}: 'params' must be a table of parameter values such as "
                f'{{ mode = "get" }}, got {show(value)}',
                *at,
            )
        texts = {}
        for name, raw in value.items():
            if isinstance(raw, bool):
                texts[name] = "true" if raw else "false"
            elif isinstance(raw, str | int | float):
                texts[name] = str(raw)
            else:
                raise self.error(
                    f"{label}: 'params.{name}' must be a string, number or true/false", *at
                )
        cls = registry.load(strategy)
        try:
            resolved = registry.resolve_params(cls, texts)
        except UsageError as exc:
            raise self.error(f"{label}: 'params': {exc}", *at) from None
        return {name: resolved[name] for name in texts}
