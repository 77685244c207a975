"""The fields that make a case, in one ordered list: what identifies it, names it and pairs it.

Every part of the harness that goes over a case's fields derives them from :data:`CASE_FIELDS`:
the case key and its digest, the names views give cases (``analysis.identity``), the gate's
account of why a baseline has nothing in common with the results (``analysis.compare``), and
the case part of a result line (``records.RunResult.for_case``), so the loader's schema too.
``Case``, ``RunResult`` and ``CaseKey`` declare the fields code reads by name, for the type
checker; a field only listed here is added to them by :func:`case_record`. Adding a dimension
is one entry here (with ``added=True``, so that the ids of results written before it stay).
The list's order is the order cases sort in and the order a case's name is built in.

Standard library only: the measured worker imports the records, and so this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

REQUIRED: Any = object()
"""The default of a field every case gives (``dataclasses.MISSING`` would mean no default to
the dataclass holding it)."""

Params = tuple[tuple[str, Any], ...]
"""A mapping field (a strategy's parameters ...) in a case key: its items, sorted."""


def format_value(value: Any) -> str:
    """A parameter value as people write it: sizes in MiB or MB when round, booleans lower."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value >= 2**10:
        for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if value % scale == 0:
                return f"{value // scale}{unit}"
        for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
            if value % scale == 0:
                return f"{value // scale}{unit}"
    return str(value)


def decimal_size(num_bytes: int) -> str:
    """An object size as a case name shows it: ``250MB``, ``4KB``, ``12B``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if num_bytes % scale == 0:
            return f"{num_bytes // scale}{unit}"
    return f"{num_bytes}B"


def _cap(num_bytes: int) -> str:
    return format_value(num_bytes) if num_bytes % 10**3 else decimal_size(num_bytes)


def _mb(num_bytes: int) -> str:
    return f"{num_bytes / 1e6:.1f} MB"


@dataclass(frozen=True)
class CaseField:
    """One dimension of a case."""

    name: str
    """The attribute of ``Case``, ``RunResult`` and ``CaseKey``, and the results.jsonl field."""
    type: Any
    """Its type in ``Case`` and ``RunResult`` (the loader checks a line's value against it)."""
    default: Any = REQUIRED
    """Its value when not given."""
    label: str | None = None
    """What the gate calls the field's values when a baseline never meets the results on it
    (``memory caps``); None: not a reason of its own."""
    disjoint: Callable[[Any], str] | None = None
    """How a case key shows in that reason; None: the value as text."""
    in_name: Callable[[Any], str | None] | None = None
    """The piece the value adds to every case name (None from it: no piece), after the
    strategy's: ``x4``, ``threads``, ``pages``."""
    facet: str | None = None
    """The name of the facet that tells cases apart by this field, shown in a case's name only
    where cases of one strategy and size differ on it (``cap``)."""
    shown: Callable[[Any], str] | None = None
    """How the facet shows a value (``cap 512MB``); None: the value as text."""
    mapping: bool = False
    """A dict of named values (a strategy's parameters): each name is a facet of its own,
    ``FACET:NAME`` shown ``NAME=VALUE``; the key holds its items sorted (:data:`Params`)."""
    on_case: bool = True
    """Whether ``Case`` carries it; False: where the case ran (the object, the backend)."""
    of_object: bool = False
    """A field of the object fetched: a *series* (one configuration across objects) and its
    name leave it out."""
    added: bool = False
    """Added after the first results were written: case ids leave the added fields out while
    every one of them is at its default, so a results file keeps the ids it was written with."""

    @property
    def key_type(self) -> Any:
        return Params if self.mapping else self.type

    @property
    def key_default(self) -> Any:
        if self.default is REQUIRED:
            return REQUIRED
        return () if self.mapping else self.default


def _executor_settings(key: Any) -> str:
    return " ".join(f"{name}={value}" for name, value in key.executor_params) or "none"


CASE_FIELDS: list[CaseField] = [
    CaseField("strategy", str, label="strategies", in_name=str),
    CaseField(
        "size_bytes",
        int,
        label="object sizes",
        disjoint=lambda k: _mb(k.size_bytes),
        in_name=decimal_size,
        of_object=True,
    ),
    CaseField(
        "object_key",
        str,
        label="objects",
        facet="object",
        on_case=False,
        of_object=True,
    ),
    CaseField(
        "concurrency",
        int,
        1,
        label="concurrency",
        disjoint=lambda k: f"{k.concurrency} {k.pool}",
        in_name=lambda n: f"x{n}" if n else None,
    ),
    CaseField("pool", str, "processes", in_name=lambda p: "threads" if p == "threads" else None),
    CaseField(
        "process",
        str,
        "none",
        label="process steps",
        in_name=lambda p: p if p != "none" else None,
        facet="process",
    ),
    CaseField(
        "shared_object",
        bool,
        False,
        label="object sharing",
        disjoint=lambda k: "shared object" if k.shared_object else "own objects",
        facet="shared",
        shown=lambda shared: "shared object" if shared else "own objects",
    ),
    CaseField(
        "memory_limit_bytes",
        int | None,
        None,
        label="memory caps",
        disjoint=lambda k: _mb(k.memory_limit_bytes) if k.memory_limit_bytes else "none",
        facet="cap",
        shown=lambda cap: f"cap {_cap(cap)}" if cap else "no cap",
    ),
    CaseField(
        "memray",
        bool,
        False,
        label="memray",
        disjoint=lambda k: "on" if k.memray else "off",
        facet="memray",
        shown=lambda on: "memray" if on else "no memray",
    ),
    CaseField(
        "fault",
        str | None,
        None,
        label="faults",
        disjoint=lambda k: k.fault or "none",
        facet="fault",
        shown=lambda fault: f"fault {fault}" if fault else "no fault",
    ),
    CaseField(
        "backend",
        str,
        label="backends",
        facet="backend",
        on_case=False,
    ),
    CaseField("params", dict[str, Any], {}, facet="param", mapping=True),
    CaseField("process_params", dict[str, Any], {}, facet="process", mapping=True),
    CaseField(
        "executor",
        str,
        "local",
        label="executors",
        in_name=lambda e: e if e != "local" else None,
        facet="executor",
        shown=lambda e: f"executor {e}",
        added=True,
    ),
    CaseField(
        "executor_params",
        dict[str, Any],
        {},
        label="executor settings",
        disjoint=_executor_settings,
        facet="executor",
        mapping=True,
        added=True,
    ),
    CaseField(
        "memory_scope",
        str,
        "worker",
        label="memory scopes",
        facet="scope",
        shown=lambda scope: f"{scope} scope",
        added=True,
    ),
    CaseField(
        "env",
        dict[str, str],
        {},
        label="environments",
        disjoint=lambda k: " ".join(f"{name}={value}" for name, value in k.env) or "none",
        facet="env",
        mapping=True,
        added=True,
    ),
]
"""Every dimension of a case, in the order cases sort in."""


def with_case_fields(*, key: bool = False, on_case: bool = False) -> Callable[[type[T]], type[T]]:
    """Add to the class (before ``@dataclass`` makes it one) every case field it does not
    declare, after its own, with its default. ``key``: the fields as a case key holds them
    (mapping fields as :data:`Params`); ``on_case``: only the fields a ``Case`` carries."""

    def add(cls: type[T]) -> type[T]:
        annotations = cls.__dict__["__annotations__"]  # noqa: RUF063 (added to, not read)
        for field in CASE_FIELDS:
            if field.name in annotations or (on_case and not field.on_case):
                continue
            default = field.key_default if key else field.default
            if default is REQUIRED:
                raise TypeError(f"case field {field.name!r} needs a default to be added")
            annotations[field.name] = field.key_type if key else field.type
            value = dataclasses.field(default_factory=dict) if default == {} else default
            setattr(cls, field.name, value)
        return cls

    return add
