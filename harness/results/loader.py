"""The one reader of results directories: every line type-checked, meta.json parsed once.

Results lines and meta.json are untrusted (a results directory can come from anywhere; object
keys and error messages are free text), so every field is checked against ``RunResult``'s
annotations and against its range here (:data:`TEXT_LIMITS`, :data:`POSITIVE`, known statuses,
pools and executors, bounded numbers), and a bad file ends in one line naming the file, the
line and the field, never in a traceback halfway through a chart, a wrong verdict or a view
that exhausts the machine on a 50 MB name. The gate, the report, the
exports and ``run --resume`` all read through :func:`load` (``compare``: :func:`each_result`).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
import types
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO, Union, get_args, get_origin, get_type_hints

from memharness_s3.analysis.expectations import parse_cost_bound
from memharness_s3.config.bounds import MAX_CONCURRENCY
from memharness_s3.config.sizes import MAX_SIZE_BYTES
from memharness_s3.errors import UsageError
from memharness_s3.model.records import (
    EXECUTORS,
    MEMORY_SCOPES,
    POOLS,
    STATUSES,
    Expectation,
    RunResult,
)
from memharness_s3.paused_gc import paused_gc
from memharness_s3.printable import printable
from memharness_s3.results.writer import META_FILE, RESULTS_FILE

MAX_LINE_CHARS = 1_000_000
"""A results line is about 2 KB; one of more than this is refused before it is parsed."""
MAX_META_BYTES = 10 * 10**6
NAME_LIMIT = 200
"""Characters of a name (strategy, object, backend, ids ...), unless TEXT_LIMITS says more."""
TEXT_LIMITS = {
    "error": 2000,
    "recycled": 2000,
    "object_key": 1024,
    "memray_file": 1024,
    "flamegraph_file": 1024,
    "timeline_file": 1024,
}
"""Characters of free-text fields: messages; S3 keys and file names (S3's own key limit)."""
OBJECT_LIMIT = 20_000
"""Characters of an object field (params, details ...) written as JSON."""
MAX_NUMBER = 10**18
"""Largest number any field holds: bytes up to an exabyte, seconds up to 30 billion years."""
POSITIVE = {"concurrency"}
"""Fields that are 1 or more; every other number is 0 or more."""
POSITIVE_WHEN_OK = ("size_bytes", "peak_rss_bytes")
"""1 or more on an ok run; a failed one may have 0 (the error line of a ``--key`` object that
is missing, a worker sampled only after it exited)."""
SIGNED = {"exit_code"}
CHOICES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "pool": POOLS,
    "executor": EXECUTORS,
    "memory_scope": MEMORY_SCOPES,
}
UPPER = {"size_bytes": MAX_SIZE_BYTES, "concurrency": MAX_CONCURRENCY}
UNIQUE_TEXTS = {"run_id", "started_at", "timeline_file", "memray_file", "flamegraph_file"}
"""Texts no two lines share: not worth a place in the shared texts."""


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
    file = _found_results(path, allow_empty=allow_empty)
    if file is None:
        return ResultsDir(path, [], load_meta(path))
    results = read_lines(file)
    if not results and not allow_empty:
        raise UsageError(f"{file} has no runs: nothing to check")
    return ResultsDir(file.parent, results, load_meta(file.parent))


def each_result(path: Path) -> Iterator[RunResult]:
    """The runs :func:`load` reads, one at a time and none of them held: the same checks and
    errors (meta.json's included, read after the last line as there), for a view that keeps
    only what it computes of each case."""
    file = _found_results(path, allow_empty=False)
    assert file is not None
    count = 0
    for result in iter_lines(file):
        count += 1
        yield result
    if not count:
        raise UsageError(f"{file} has no runs: nothing to check")
    load_meta(file.parent)


def _found_results(path: Path, *, allow_empty: bool) -> Path | None:
    """The results file of ``path``; None for a directory without one when ``allow_empty``."""
    if not path.exists():
        raise UsageError(f"no results at {path}: give a results directory or its results.jsonl")
    file = results_file(path)
    if file != path:  # found in the directory, not named by the user: never followed out of it
        _refuse_link(file)
    if not file.is_file():
        if allow_empty and path.is_dir():
            return None
        raise UsageError(f"no results file at {file}")
    return file


def read_lines(file: Path) -> list[RunResult]:
    """Every result line of ``file``, each checked against the schema."""
    with paused_gc():
        return list(iter_lines(file))


def iter_lines(file: Path) -> Iterator[RunResult]:
    """The result lines of ``file`` one at a time, each checked against the schema as it is
    read: one pass, and never more than one line of text in memory.

    Results are made lean as they are read: the names every line repeats (strategy, backend,
    object key, case id ...) and the mappings most lines share (params, details) are one
    object each however many lines hold them. No view changes a result's mappings.
    """
    checks = _field_checks()
    shared = _Shared()
    quick = _QuickPath(checks, shared)
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            for number, line in enumerate(_bounded_lines(handle, file), start=1):
                if line and not line.isspace():  # line.strip() without copying the line
                    result = quick.result(line)
                    yield (
                        result
                        if result is not None
                        else _result(file, number, line, checks, shared)
                    )
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read results at {file}: {exc}") from None


def _bounded_lines(handle: TextIO, file: Path) -> Iterator[str]:
    """The lines of ``handle``; UsageError at the first longer than :data:`MAX_LINE_CHARS`,
    whose length is counted without holding it."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 2):
        number += 1
        text = line.rstrip("\r\n")
        if len(text) > MAX_LINE_CHARS:
            length = len(text)
            while not line.endswith("\n") and (line := handle.readline(MAX_LINE_CHARS)):
                length += len(line.rstrip("\r\n"))
            raise UsageError(
                f"{file}:{number}: a line of {length:,} characters is not a memharness result "
                f"line (at most {MAX_LINE_CHARS:,})"
            )
        yield text


def _result(
    file: Path, number: int, line: str, checks: dict[str, _FieldCheck], shared: _Shared
) -> RunResult:
    """One line as a result: type and range of every field checked, texts and mappings shared."""
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object for RunResult, got {type(data).__name__}")
    except (ValueError, RecursionError) as exc:
        reason = printable(str(exc), 200)
        raise UsageError(f"{file}:{number}: not a memharness result line ({reason})") from None
    data = _upgraded(data)
    if data.keys() - _FIELD_NAMES:  # fields of a newer version are left out
        data = {k: v for k, v in data.items() if k in _FIELD_NAMES}
    clean = {}
    seen = shared.seen
    for name, value in data.items():  # a field not given has its default, which is valid
        kind = type(value)
        if kind is str or kind is bool or value is None:
            # the names, flags and nulls every line repeats are checked once per file
            known = seen.get((name, kind, value), _UNSEEN)
            if known is not _UNSEEN:
                clean[name] = known
                continue
        check = checks[name]
        clean[name] = _checked(file, number, name, value, check, shared)
        if (kind is str and check.shared) or kind is bool or value is None:
            seen[(name, kind, value)] = clean[name]
    try:
        result = RunResult(**clean)
    except TypeError as exc:
        reason = printable(str(exc), 200)
        raise UsageError(f"{file}:{number}: not a memharness result line ({reason})") from None
    for name in POSITIVE_WHEN_OK if result.status == "ok" else ():
        if getattr(result, name) == 0:
            raise UsageError(f"{file}:{number}: field {name!r} of an ok run must be 1 or more")
    return result


_UNSEEN = object()


def _upgraded(data: dict[str, Any]) -> dict[str, Any]:
    """A line written before its fields were: a Celery line without ``memory_scope`` ran under
    its node's cap, shared by the node's children (``records.MEMORY_SCOPES``)."""
    if data.get("executor") == "celery":
        data.setdefault("memory_scope", "node")
    return data


def _checked(
    file: Path, number: int, name: str, value: Any, check: _FieldCheck, shared: _Shared
) -> Any:
    """``value`` of field ``name`` once its type and range are checked: the shared copy of a
    text or mapping; UsageError naming the file, line and field otherwise."""
    if not check.accepts(value):
        raise UsageError(
            f"{file}:{number}: field {name!r} must be {_describe(check.hint)}, got {_shown(value)}"
        )
    kind = type(value)
    problem = None
    if kind is int or kind is float:
        if not check.low <= value <= check.high:
            problem = _out_of_range(name, value)
    elif kind is str:
        if len(value) > check.limit or (check.choices and value not in check.choices):
            problem = _out_of_range(name, value)
        elif check.shared:
            value = shared.text(value)
    elif kind is dict:
        value, problem = shared.mapping(value)
    if problem is not None:
        raise UsageError(f"{file}:{number}: field {name!r} {problem}")
    return value


@dataclass(frozen=True)
class _FieldCheck:
    """A field of ``RunResult`` with its checks made once: its type from its annotation, its
    range (:func:`_out_of_range` words what is wrong) and whether its texts are shared."""

    hint: Any
    accepts: Callable[[Any], bool]
    kinds: frozenset[type] | None
    """The exact types :attr:`accepts` may take (floats only when finite); None: any check."""
    low: int
    high: int
    limit: int
    choices: tuple[str, ...]
    shared: bool


_FIELD_ORDER = [item.name for item in fields(RunResult)]
_FIELD_NAMES = frozenset(_FIELD_ORDER)
_REQUIRED = frozenset(
    item.name for item in fields(RunResult) if item.default is item.default_factory is MISSING
)


@functools.cache
def _field_checks() -> dict[str, _FieldCheck]:
    hints = get_type_hints(RunResult)
    return {
        f.name: _FieldCheck(
            hint=hints[f.name],
            accepts=_accepts(hints[f.name]),
            kinds=_kinds(hints[f.name]),
            low=-MAX_NUMBER if f.name in SIGNED else (1 if f.name in POSITIVE else 0),
            high=UPPER.get(f.name, MAX_NUMBER),
            limit=TEXT_LIMITS.get(f.name, NAME_LIMIT),
            choices=CHOICES.get(f.name, ()),
            shared=f.name not in UNIQUE_TEXTS,
        )
        for f in fields(RunResult)
    }


def _kinds(hint: Any) -> frozenset[type] | None:
    """The exact types a decoded JSON value of an annotation may have (a float field takes
    ints too); None for a type no JSON value has exactly (Any, a tuple ...)."""
    parts = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    exact: set[type] = set()
    for part in parts:
        if part is type(None):
            exact.add(type(None))
        elif get_origin(part) is dict:
            exact.add(dict)
        elif part is float:
            exact.update((int, float))
        elif part in (int, bool, str):
            exact.add(part)
        else:
            return None
    return frozenset(exact)


def _accepts(hint: Any) -> Callable[[Any], bool]:
    """:func:`_conforms` for one annotation, read once: a decoded JSON value has an exact type
    (never a subclass), so the check is a set of types and, for floats, a finiteness test."""
    allowed = _kinds(hint)
    if allowed is None:  # the general check
        return lambda value: _conforms(value, hint)

    def accepts(value: Any) -> bool:
        kind = type(value)
        return kind in allowed and (kind is not float or math.isfinite(value))

    return accepts


class _Shared:
    """One object for each distinct text and each distinct mapping of a results file."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._mappings: dict[str, dict[str, Any]] = {}
        self.seen: dict[tuple[str, type, Any], Any] = {}
        """(field, type, value) of the texts, flags and nulls already checked: their copy."""

        self.flat: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
        """The copies of the flat mappings of a line, by their items and types."""

    def text(self, value: str) -> str:
        return self._texts.setdefault(value, value)

    @property
    def texts(self) -> dict[str, str]:
        return self._texts

    def mapping(self, value: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The one copy of ``value``, and why it is out of range (its size as JSON) or None."""
        try:
            key = json.dumps(value, sort_keys=True)
        except (ValueError, TypeError, RecursionError):
            return value, "is not plain JSON"
        if len(key) > OBJECT_LIMIT:
            return value, f"is longer than {OBJECT_LIMIT:,} characters as JSON"
        return self._mappings.setdefault(key, value), None

    def known_mappings(
        self, values: tuple[dict[str, Any], ...]
    ) -> tuple[dict[str, Any], ...] | None:
        """:meth:`mapping`'s copies of a line's mappings when all are in range; None when one
        is not. Flat mappings are found by their items and the items' types (so that ``1``,
        ``1.0`` and ``true`` stay apart), without writing them as JSON again."""
        # (items of each mapping, types of each mapping's values), made without a Python loop
        key = (
            tuple(map(tuple, map(dict.items, values))),
            tuple(map(tuple, map(map, itertools.repeat(type), map(dict.values, values)))),
        )
        try:
            found = self.flat.get(key)
        except TypeError:  # a nested list or object: not flat
            found, hashable = None, False
        else:
            hashable = True
        if found is not None:
            return found
        copies = []
        for value in values:
            copy, problem = self.mapping(value)
            if problem is not None:
                return None
            copies.append(copy)
        if hashable and all(set(kinds) <= _FLAT_KINDS for kinds in key[1]):
            self.flat[key] = tuple(copies)
        return tuple(copies)


_FLAT_KINDS = {str, int, bool, type(None)}
"""Values a flat mapping's key is made of: equal and of one type only when written alike (a
float is left to :meth:`_Shared.mapping`: ``0.0`` and ``-0.0`` are equal, not alike)."""


class _NonFinite:
    """What the quick path decodes ``NaN`` and ``Infinity`` as: a type no field accepts, so
    that the line goes to the careful path, which says which field holds it."""


_NON_FINITE = _NonFinite()
_MAX_LAYOUTS = 1000
"""Layouts the quick path makes a plan for; lines of any other go the careful path."""


class _QuickPath:
    """Lines checked with one plan per layout (their fields, in order, and each field's type):
    the numbers of each range checked together (``min``/``max`` of a tuple), the texts of each
    length limit together, the texts and mappings shared through :class:`_Shared`, the values
    put in ``RunResult``'s order by position, never looked up by name.

    It accepts a line only when every check of the careful path (:func:`_result`) would, and
    makes the same result of it; anything it does not accept (a bad value, an unknown layout)
    goes to the careful path, which says what is wrong. So it is only ever faster.
    """

    def __init__(self, checks: dict[str, _FieldCheck], shared: _Shared) -> None:
        self._checks = checks
        self._shared = shared
        self._plans: dict[tuple[tuple[str, ...], tuple[type, ...]], _Plan | None] = {}

    def result(self, line: str) -> RunResult | None:
        """The line's result, or None when the careful path must read it."""
        try:
            data = _DECODER.decode(line)
        except (ValueError, RecursionError):
            return None
        if type(data) is not dict:
            return None
        values = tuple(data.values())
        layout = (tuple(data), tuple(map(type, values)))
        plan = self._plans.get(layout, _UNSEEN)
        if plan is _UNSEEN:
            plan = _plan(layout, self._checks) if len(self._plans) < _MAX_LAYOUTS else None
            self._plans[layout] = plan
        if plan is None:
            return None
        assert isinstance(plan, _Plan)
        return plan.result(values, self._shared)


def _non_finite(_: str) -> _NonFinite:
    return _NON_FINITE


_DECODER = json.JSONDecoder(parse_constant=_non_finite)
"""``json.loads`` with NaN and Infinity decoded as :data:`_NON_FINITE`, made once."""

_Pick = Callable[[tuple[Any, ...]], tuple[Any, ...]]


@dataclass(frozen=True)
class _Plan:
    """How the lines of one layout are checked and made results; each ``_Pick`` takes values
    by their positions in the line."""

    numbers: tuple[tuple[_Pick, int, int], ...]
    """(the numbers of one range, low, high)."""
    texts: tuple[tuple[_Pick, int], ...]
    """(the texts of one length limit, the limit)."""
    choices: tuple[tuple[int, tuple[str, ...]], ...]
    shared_texts: _Pick
    """The texts :meth:`_Shared.text` shares."""
    mappings: _Pick
    arguments: _Pick
    """``RunResult``'s arguments, in its field order, from the line's values followed by the
    shared copies of its texts and of its mappings."""
    names: tuple[str, ...] | None
    """The arguments' names when the layout lacks a field (passed by name); None otherwise."""

    def result(self, values: tuple[Any, ...], shared: _Shared) -> RunResult | None:
        for pick, low, high in self.numbers:
            numbers = pick(values)
            if min(numbers) < low or max(numbers) > high:
                return None
        for pick, limit in self.texts:
            if max(map(len, pick(values))) > limit:
                return None
        for index, choices in self.choices:
            if values[index] not in choices:
                return None
        texts = self.shared_texts(values)
        copies = shared.known_mappings(self.mappings(values))
        if copies is None:
            return None
        arguments = self.arguments(
            values + tuple(map(shared.texts.setdefault, texts, texts)) + copies
        )
        result = (
            RunResult(*arguments)
            if self.names is None
            else RunResult(**dict(zip(self.names, arguments, strict=True)))
        )
        if result.status == "ok" and (result.size_bytes == 0 or result.peak_rss_bytes == 0):
            return None  # POSITIVE_WHEN_OK: the careful path words it
        return result


def _pick(positions: list[int]) -> _Pick:
    """The values at ``positions`` of a tuple, as a tuple, however many positions."""
    if len(positions) == 1:
        (position,) = positions
        return lambda values: (values[position],)
    if not positions:
        return lambda values: ()
    return operator.itemgetter(*positions)


def _plan(
    layout: tuple[tuple[str, ...], tuple[type, ...]], checks: dict[str, _FieldCheck]
) -> _Plan | None:
    """The plan for lines of ``layout``, or None when they are for the careful path: a field
    this version does not know, a required field missing, a line :func:`_upgraded` may change,
    a type a field does not take."""
    names, kinds = layout
    present = set(names)
    if not present <= _FIELD_NAMES:
        return None
    if not present >= _REQUIRED or ("executor" in names and "memory_scope" not in names):
        return None
    numbers: dict[tuple[int, int], list[int]] = {}
    texts: dict[int, list[int]] = {}
    choices, shared_texts, mappings = [], [], []
    for index, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        check = checks[name]
        if check.kinds is None or kind not in check.kinds:
            return None
        if kind is int or kind is float:
            numbers.setdefault((check.low, check.high), []).append(index)
        elif kind is str:
            texts.setdefault(check.limit, []).append(index)
            if check.choices:
                choices.append((index, check.choices))
            if check.shared:
                shared_texts.append(index)
        elif kind is dict:
            mappings.append(index)
    # Where each field's argument is: its shared copy after the line's values, or its value.
    position = {names[index]: index for index in range(len(names))}
    position |= {names[i]: len(names) + n for n, i in enumerate(shared_texts)}
    position |= {names[i]: len(names) + len(shared_texts) + n for n, i in enumerate(mappings)}
    given = [name for name in _FIELD_ORDER if name in position]
    return _Plan(
        numbers=tuple((_pick(group), low, high) for (low, high), group in numbers.items()),
        texts=tuple((_pick(group), limit) for limit, group in texts.items()),
        choices=tuple(choices),
        shared_texts=_pick(shared_texts),
        mappings=_pick(mappings),
        arguments=_pick([position[name] for name in given]),
        names=None if len(given) == len(_FIELD_ORDER) else tuple(given),
    )


def _out_of_range(name: str, value: Any) -> str | None:
    """Why ``value`` (of the right type, not a mapping: :meth:`_Shared.mapping` sizes those)
    is out of the range of field ``name``, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        if name in CHOICES and value not in CHOICES[name]:
            return f"must be one of {', '.join(CHOICES[name])}, got {_shown(value)}"
        limit = TEXT_LIMITS.get(name, NAME_LIMIT)
        return (
            f"is longer than {limit:,} characters ({len(value):,})" if len(value) > limit else None
        )
    low = -MAX_NUMBER if name in SIGNED else (1 if name in POSITIVE else 0)
    high = UPPER.get(name, MAX_NUMBER)
    if not low <= value <= high:
        return f"must be from {low:,} to {high:,}, got {_shown(value)}"
    return None


def _shown(value: Any) -> str:
    """A value quoted in a message: printable and short (it may be 400 digits or 50 MB)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"a number of {len(str(abs(value)))} digits"
    try:
        text = json.dumps(value, default=str)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return printable(text, 40)


def load_meta(directory: Path) -> Meta:
    """meta.json of ``directory``: ``Meta()`` when there is none, UsageError when it is bad."""
    path = directory / META_FILE
    _refuse_link(path)
    if not path.is_file():
        return Meta()
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise UsageError(f"{path}: larger than {MAX_META_BYTES // 10**6} MB: not a meta file")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not JSON ({printable(str(exc), 200)})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a JSON object")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: 'settings' must be an object")
    limit = settings.get("memory_limit_bytes")
    if limit is not None and not (_is_int(limit) and 0 < limit <= MAX_SIZE_BYTES):
        raise UsageError(f"{path}: settings.memory_limit_bytes must be bytes")
    return Meta(raw, settings, limit, tuple(_expectations(path, settings.get("expect", []))))


def _refuse_link(path: Path) -> None:
    """UsageError when ``path``, a file of a results directory, is a symbolic link: a
    directory from elsewhere must not make a command read a file outside it."""
    if path.is_symlink():
        raise UsageError(
            f"{path} is a symbolic link: memharness reads only the directory's own files"
        )


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
            or not 0 <= entry["min_size_bytes"] <= MAX_SIZE_BYTES
            or not all(len(str(entry.get(k) or "")) <= TEXT_LIMITS["error"] for k in entry)
            or not all(isinstance(entry[k], str) for k in ("strategy", "status", "reason"))
            or not (
                entry.get("max_size_bytes") is None
                or (
                    _is_int(entry["max_size_bytes"])
                    and 0 <= entry["max_size_bytes"] <= MAX_SIZE_BYTES
                )
            )
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
