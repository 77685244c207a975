"""Matrix files: a whole ``memharness run`` described in TOML (``memharness run --matrix FILE``).

A matrix file has up to three parts. Only ``[matrix]`` with ``sizes`` and ``strategies`` is
required; the other keys of ``[matrix]`` show their defaults, unless a comment gives another::

    [matrix]
    sizes = ["small", "medium", "750MB"]   # catalog names (small, medium, large, xlarge) or sizes
    strategies = ["read-all", "chunked"]   # registered names, as `memharness strategies` lists
    concurrency = [1, 4]       # worker counts, each its own set of cases (default: 1); 4 alone ok
    pool = "processes"         # processes: N worker processes; threads: N threads in one
    shared_object = false      # true: concurrent fetches share one object, else a copy each
    memory_limit = "512MiB"    # hard cap per worker (default: none; omit the key for none)
    process = "none"           # step after fetching: none, pages or split
    split_part_size = "100MB"  # largest part the split step writes
    repeat = 1                 # runs per case
    timeout = 900              # seconds per worker run
    backend = "moto"           # moto, s3rver, minio or endpoint (default: the command line's)
    memray = false             # record heap attribution with memray
    faults = ["none", "slowdown-503:3"]  # each its own set of cases (default: none), see below

    [params.chunked]           # parameters of one strategy named in `strategies`
    chunk_size = "16MiB"       # the names and values --param chunked.chunk_size=16MiB takes

    [[expect]]                 # a run expected to end with `status`; one table per expectation
    strategy = "read-all"      # a strategy named in `strategies`
    min_size = "500MB"         # applies to objects at least this big (a size or a catalog name)
    status = "oom"             # ok, error, oom or timeout
    reason = "read-all holds the whole object; it cannot fit a 512 MiB worker"

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

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memharness_s3 import registry
from memharness_s3.backends import BACKENDS
from memharness_s3.errors import UsageError
from memharness_s3.faults.spec import parse_fault_list
from memharness_s3.fixture_cache import resolve_size
from memharness_s3.records import POOLS, STATUSES, Expectation
from memharness_s3.sizes import parse_size
from memharness_s3.strategies.processing import DEFAULT_SPLIT_PART_BYTES, PROCESS_STEPS

DEFAULT_TIMEOUT_S = 900.0
TABLES = ("matrix", "params", "expect")
MATRIX_KEYS = (
    "sizes",
    "strategies",
    "concurrency",
    "pool",
    "shared_object",
    "memory_limit",
    "process",
    "split_part_size",
    "repeat",
    "timeout",
    "backend",
    "memray",
    "faults",
)
EXPECT_KEYS = ("strategy", "min_size", "status", "reason")


@dataclass(frozen=True)
class MatrixSpec:
    """A run's settings: what a matrix file says, with the defaults for what it leaves out."""

    sizes: list[tuple[str, int]]
    strategies: list[str]
    concurrency: list[int] = field(default_factory=lambda: [1])
    pool: str = "processes"
    shared_object: bool = False
    memory_limit_bytes: int | None = None
    process: str = "none"
    split_part_bytes: int = DEFAULT_SPLIT_PART_BYTES
    repeat: int = 1
    timeout_s: float = DEFAULT_TIMEOUT_S
    backend: str | None = None
    """None: the command line's ``--backend`` (or its default)."""
    memray: bool = False
    faults: list[str | None] = field(default_factory=lambda: [None])
    """Fault specs, each its own set of cases; None is the run without a fault."""
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per-strategy overrides as text, as ``registry.parse_param_overrides`` returns them."""
    expect: list[Expectation] = field(default_factory=list)


def load_matrix(path: Path) -> MatrixSpec:
    """Read and validate the matrix file at ``path``; any problem is a one-line UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read matrix file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
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


def _show(value: Any) -> str:
    """A value as it would appear in TOML, near enough for a message."""
    return json.dumps(value, default=str)


def _suggest(name: str, options: Iterable[str], quote: str = "'{}'") -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {quote.format(close[0])}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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

    def spec(self, data: dict[str, Any]) -> MatrixSpec:
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
        strategies = self.strategies(matrix["strategies"])
        return MatrixSpec(
            sizes=self.sizes(matrix["sizes"]),
            strategies=strategies,
            concurrency=self.concurrency(matrix.get("concurrency", [1])),
            pool=self.choice(matrix, "pool", POOLS, "pool") or "processes",
            shared_object=self.flag(matrix, "shared_object"),
            memory_limit_bytes=self.size(matrix, "memory_limit"),
            process=self.choice(matrix, "process", PROCESS_STEPS, "process step") or "none",
            split_part_bytes=self.size(matrix, "split_part_size") or DEFAULT_SPLIT_PART_BYTES,
            repeat=self.repeat(matrix.get("repeat", 1)),
            timeout_s=self.timeout(matrix.get("timeout", DEFAULT_TIMEOUT_S)),
            backend=self.choice(matrix, "backend", BACKENDS, "backend"),
            memray=self.flag(matrix, "memray"),
            faults=self.faults(matrix.get("faults", ["none"])),
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
                    f"unknown table [{name}]{_suggest(name, TABLES, '[{}]')}; {tables}",
                    _At(name),
                    _At("", name),
                )
            raise self.error(
                f"unknown key {name!r} at the top level{_suggest(name, TABLES, '[{}]')}; {tables}",
                _At("", name),
            )

    def check_keys(
        self, table: dict[str, Any], known: Sequence[str], label: str, *places: _At
    ) -> None:
        """Reject the first key not in ``known``; ``places[0]`` is the table's own place."""
        for key in table:
            if key not in known:
                hint = _suggest(key, known) or f"; known keys: {', '.join(known) or 'none'}"
                here = _At(places[0].table, key, places[0].entry)
                raise self.error(f"unknown key {key!r} in {label}{hint}", here, *places)

    def string_list(self, key: str, value: Any, example: str) -> list[str]:
        at = _At("matrix", key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(
                f"{key!r} must be a list of strings such as {example}, got {_show(value)}", at
            )
        if not value:
            raise self.error(f"{key!r} is empty: list at least one", at)
        if not all(item.strip() for item in value):
            raise self.error(f"{key!r} has an empty entry", at)
        return value

    def no_duplicates(self, key: str, items: Sequence[object]) -> None:
        for index, item in enumerate(items):
            if item in items[:index]:
                raise self.error(f"{key!r} lists {_show(item)} twice", _At("matrix", key))

    def sizes(self, value: Any) -> list[tuple[str, int]]:
        items = self.string_list("sizes", value, '["small", "250MB"]')
        try:
            sizes = [resolve_size(item) for item in items]
        except UsageError as exc:
            raise self.error(f"'sizes': {exc}", _At("matrix", "sizes")) from None
        self.no_duplicates("sizes", [name for name, _ in sizes])
        return sizes

    def strategies(self, value: Any) -> list[str]:
        items = self.string_list("strategies", value, '["read-all", "chunked"]')
        try:
            names = registry.parse_strategy_list(",".join(items))
        except UsageError as exc:
            raise self.error(f"'strategies': {exc}", _At("matrix", "strategies")) from None
        self.no_duplicates("strategies", names)
        return names

    def concurrency(self, value: Any) -> list[int]:
        at = _At("matrix", "concurrency")
        values = value if isinstance(value, list) else [value]
        if not values or not all(_is_int(item) for item in values):
            raise self.error(
                "'concurrency' must be a worker count or a list of them such as [1, 4], "
                f"got {_show(value)}",
                at,
            )
        for item in values:
            if item < 1:
                raise self.error(f"concurrency {item} is not a worker count: use 1 or more", at)
        self.no_duplicates("concurrency", values)
        return values

    def choice(
        self, table: dict[str, Any], key: str, choices: Sequence[str], noun: str
    ) -> str | None:
        """The value of ``key``, one of ``choices``; None when the key is absent."""
        if key not in table:
            return None
        value, at = table[key], _At("matrix", key)
        if not isinstance(value, str):
            raise self.error(
                f"{key!r} must be a string, one of: {', '.join(choices)}; got {_show(value)}", at
            )
        if value not in choices:
            raise self.error(
                f"unknown {noun} {value!r}{_suggest(value, choices)}; "
                f"choose one of: {', '.join(choices)}",
                at,
            )
        return value

    def flag(self, table: dict[str, Any], key: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.error(
                f"{key!r} must be true or false, got {_show(value)}", _At("matrix", key)
            )
        return value

    def size(self, table: dict[str, Any], key: str) -> int | None:
        """The bytes a size string names; None when the key is absent."""
        if key not in table:
            return None
        value, at = table[key], _At("matrix", key)
        if not isinstance(value, str):
            raise self.error(
                f'{key!r} must be a size string such as "512MB", got {_show(value)}', at
            )
        try:
            return parse_size(value)
        except UsageError as exc:
            raise self.error(f"{key!r}: {exc}", at) from None

    def faults(self, value: Any) -> list[str | None]:
        items = self.string_list("faults", value, '["none", "reset-mid-body@30%"]')
        try:
            return parse_fault_list(items)
        except UsageError as exc:
            raise self.error(f"'faults': {exc}", _At("matrix", "faults")) from None

    def repeat(self, value: Any) -> int:
        if not _is_int(value) or value < 1:
            raise self.error(
                f"'repeat' must be a positive integer, got {_show(value)}", _At("matrix", "repeat")
            )
        return int(value)

    def timeout(self, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise self.error(
                f"'timeout' must be a positive number of seconds, got {_show(value)}",
                _At("matrix", "timeout"),
            )
        return float(value)

    def params(self, value: Any, strategies: list[str]) -> dict[str, dict[str, str]]:
        if not isinstance(value, dict):
            raise self.error(
                "'params' must be tables: write [params.STRATEGY] with NAME = VALUE lines",
                _At("", "params"),
            )
        params: dict[str, dict[str, str]] = {}
        for name, table in value.items():
            label = f"[params.{name}]"
            at = (_At(f"params.{name}"), _At("params", name))
            if name not in strategies:
                raise self.error(
                    f"{label}: strategy {name!r} is not in 'strategies'"
                    f"{_suggest(name, strategies)}; params apply to this matrix's strategies",
                    *at,
                )
            if not isinstance(table, dict):
                raise self.error(
                    f"'params.{name}' must be a table: write {label} with NAME = VALUE lines", *at
                )
            cls = registry.load(name)
            self.check_keys(table, list(cls.params), label, *at)
            overrides: dict[str, str] = {}
            for key, raw in table.items():
                where = (_At(f"params.{name}", key), *at)
                if isinstance(raw, bool):
                    text = "true" if raw else "false"
                elif isinstance(raw, str | int | float):
                    text = str(raw)
                else:
                    raise self.error(
                        f"'{name}.{key}' must be a string, number or true/false, got {_show(raw)}",
                        *where,
                    )
                try:
                    registry.resolve_params(cls, {key: text})
                except UsageError as exc:
                    raise self.error(f"{label} {key!r}: {exc}", *where) from None
                overrides[key] = text
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
        self.check_keys(entry, EXPECT_KEYS, label, here)
        missing = [key for key in EXPECT_KEYS if key not in entry]
        if missing:
            names = ", ".join(repr(key) for key in missing)
            raise self.error(f"{label} is missing {names}; it needs {', '.join(EXPECT_KEYS)}", here)
        for key in EXPECT_KEYS:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise self.error(
                    f"{label}: {key!r} must be a non-empty string, got {_show(entry[key])}",
                    _At("expect", key, index),
                    here,
                )
        strategy, status = entry["strategy"], entry["status"]
        if strategy not in strategies:
            raise self.error(
                f"{label}: strategy {strategy!r} is not in 'strategies'"
                f"{_suggest(strategy, strategies)}",
                _At("expect", "strategy", index),
                here,
            )
        if status not in STATUSES:
            raise self.error(
                f"{label}: unknown status {status!r}{_suggest(status, STATUSES)}; "
                f"choose one of: {', '.join(STATUSES)}",
                _At("expect", "status", index),
                here,
            )
        try:
            _, min_size = resolve_size(entry["min_size"])
        except UsageError as exc:
            raise self.error(
                f"{label}: 'min_size': {exc}", _At("expect", "min_size", index), here
            ) from None
        return Expectation(strategy, min_size, status, entry["reason"])
