"""What makes two runs the same case, and how a case is named: defined once, here.

Two runs are the same case when everything that changes what they measure is equal: the
strategy and its parameters, the object, the processing step and its parameters, how many
workers at once and in what pool, whether they share one object, the memory cap, memray
tracking, the injected fault, the S3 backend, the executor with its node settings (a task
in a long-lived Celery child is not a fresh worker process), what the memory cap caps (each
worker, or the workers of a node together) and the environment set for the workers: the fields
listed, in order, in
``case_fields.CASE_FIELDS``, from which the key, its digest and the names are derived. The
``case_id`` written to results.jsonl is a digest of exactly these fields
(:attr:`CaseKey.case_id`), and every view (gate, report, terminal summary, exports) groups runs
by the key it derives from the result's own fields, so no view can group differently from
another, and a results file from an older version is grouped by what it recorded, not by an id
computed under other rules.

A *series* is a case without its object: one configuration across object sizes, the unit the
fits and charts draw. A *slot* is a case without its strategy parameters: the gate pairs a case
with a baseline case in the same slot when their parameters differ, so that a changed parameter
is compared (and can fail), not skipped as "new".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from memharness_s3.model.case_fields import (
    CASE_FIELDS,
    Params,
    decimal_size,
    format_value,
    with_case_fields,
)
from memharness_s3.model.records import Case, RunResult

COPY_SUFFIX = ".copy-"
"""Concurrent fetches get copies of the object named ``KEY.copy-N`` (``plan.object_copies``)."""


def base_key(key: str) -> str:
    """The original object's key for a key that may be one of its ``.copy-N`` copies."""
    stem, sep, number = key.rpartition(COPY_SUFFIX)
    return stem if sep and number.isdigit() else key


def _frozen(params: Mapping[str, Any]) -> Params:
    return tuple(sorted(params.items()))


@dataclass(frozen=True)
@with_case_fields(key=True)
class CaseKey:
    """Everything that makes two runs measure different things: a value for each case field
    (``case_fields.CASE_FIELDS``, in its order); those read by name are declared here."""

    strategy: str
    size_bytes: int
    object_key: str
    """The base object key (fixtures: size, seed and page size are in the name)."""
    concurrency: int
    pool: str
    process: str
    shared_object: bool
    memory_limit_bytes: int | None
    memray: bool
    fault: str | None
    backend: str
    params: Params
    process_params: Params
    executor: str = "local"
    executor_params: Params = ()
    memory_scope: str = "worker"
    env: Params = ()

    def __lt__(self, other: CaseKey) -> bool:
        return self.order < other.order

    @property
    def order(self) -> tuple[Any, ...]:
        """How cases sort: by strategy, size, object and concurrency first; unset values first."""
        return tuple(
            (value is not None, value if value is not None else 0) for value in _VALUES(self)
        )

    @property
    def case_id(self) -> str:
        """A 12-hex-digit digest of the identity: equal keys give equal ids in every run."""
        fields = {
            field.name: dict(getattr(self, field.name))
            if field.mapping
            else getattr(self, field.name)
            for field in CASE_FIELDS
        }
        added = [field for field in CASE_FIELDS if field.added]
        # Left out at their defaults, so the ids of results written before they were added stay.
        if all(getattr(self, field.name) == field.key_default for field in added):
            for field in added:
                del fields[field.name]
        text = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def series(self) -> CaseKey:
        """This case across object sizes: the key without its object."""
        return dataclasses.replace(
            self, **{field.name: field.type() for field in CASE_FIELDS if field.of_object}
        )

    @property
    def slot(self) -> CaseKey:
        """This case whatever its strategy parameters: the key without them."""
        return dataclasses.replace(self, params=())


_VALUES = operator.attrgetter(*(field.name for field in dataclasses.fields(CaseKey)))
"""A key's values in field order (what ``dataclasses.astuple`` gives, without copying them)."""


def key_of_case(case: Case, object_key: str, backend: str) -> CaseKey:
    """The key of a planned case (``object_key``: the key of its first object)."""
    where = {"object_key": object_key, "backend": backend}
    return _key(lambda name: getattr(case, name) if name not in where else where[name])


def key_of_result(result: RunResult) -> CaseKey:
    """The key of the case a results line belongs to, from the line's own fields."""
    return _key(lambda name: getattr(result, name))


class ResultKeys:
    """:func:`key_of_result`, made once per case of a results file rather than once per line.

    A line is known by its case fields' plain values and the identities of its mappings: the
    loader gives equal mappings of a file one object (``results.loader``), so the lines of a
    case find the key made for its first line. Equal keys are one object. The mappings are
    held with their key, so that their identities are never those of other objects while the
    cache lives. No view changes a result's mappings.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[Any, ...], tuple[CaseKey, tuple[Any, ...]]] = {}
        self._one: dict[CaseKey, CaseKey] = {}

    def __call__(self, result: RunResult) -> CaseKey:
        mappings = _MAPPINGS_OF(result)
        known = (_PLAIN_OF(result), *map(id, mappings))
        found = self._keys.get(known)
        if found is None:
            key = key_of_result(result)
            found = self._keys[known] = (self._one.setdefault(key, key), mappings)
        return found[0]


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The attributes ``names`` of an object as a tuple, however many names."""
    get = operator.attrgetter(*names)
    return get if len(names) > 1 else lambda item: (get(item),)


_PLAIN_OF = _getter([field.name for field in CASE_FIELDS if not field.mapping])
_MAPPINGS_OF = _getter([field.name for field in CASE_FIELDS if field.mapping])


def _key(value_of: Callable[[str], Any]) -> CaseKey:
    values: dict[str, Any] = {}
    for field in CASE_FIELDS:
        value = value_of(field.name)
        values[field.name] = _frozen(value) if field.mapping else value
    values["object_key"] = base_key(values["object_key"])
    return CaseKey(**values)


# ---------------------------------------------------------------------------------------------
# Names


def _facets(key: CaseKey) -> dict[str, str]:
    """Every dimension of a key that can tell two keys of one strategy apart, as text."""
    facets = {}
    for field in CASE_FIELDS:
        if field.facet is None:
            continue
        value = getattr(key, field.name)
        if field.mapping:
            for name, item in value:
                facets[f"{field.facet}:{name}"] = f"{name}={format_value(item)}"
        else:
            facets[field.facet] = field.shown(value) if field.shown else str(value)
    return facets


def _facet_order(name: str) -> tuple[int, str]:
    """Parameters first, then the process step's, then the rest, each alphabetical."""
    return (0 if name.startswith("param:") else 1 if name.startswith("process:") else 2, name)


def _base_name(key: CaseKey, with_size: bool) -> list[str]:
    pieces = []
    for field in CASE_FIELDS:
        if field.in_name is None or (field.of_object and not with_size):
            continue
        if piece := field.in_name(getattr(key, field.name)):
            pieces.append(piece)
    return pieces


def _in_base_name() -> set[str | None]:
    """Facets every name shows already (the process step, the executor): never shown again."""
    return {field.facet for field in CASE_FIELDS if field.in_name and not field.mapping}


def labels(
    keys: Iterable[CaseKey], *, with_size: bool = True, sep: str = " "
) -> dict[CaseKey, str]:
    """A name per key that tells it apart from every other key given.

    The name is ``strategy size xN [process]``, then every facet (a parameter, the fault, the
    cap, the backend, ...) whose value differs between keys of the same strategy and size, e.g.
    ``chunked 4MB x1 chunk_size=8MiB fault truncate``. Keys that still collide get their id.
    A key with concurrency 0 is named without it (series names: one colour per configuration).
    """
    unique = sorted(set(keys), key=lambda key: key.order)  # each key's order made once
    facets = {key: _facets(key) for key in unique}
    groups: dict[tuple[str, int], list[CaseKey]] = {}
    for key in unique:
        groups.setdefault((key.strategy, key.size_bytes), []).append(key)
    named: dict[CaseKey, str] = {}
    for group in groups.values():
        names = {name for key in group for name in facets[key]} - _in_base_name()
        varying = sorted(
            (name for name in names if len({facets[key].get(name) for key in group}) > 1),
            key=_facet_order,
        )
        for key in group:
            shown = [facets[key][name] for name in varying if name in facets[key]]
            named[key] = sep.join(_base_name(key, with_size) + shown)
    counts: dict[str, int] = {}
    for name in named.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        key: name if counts[name] == 1 else f"{name}{sep}[{key.case_id}]"
        for key, name in named.items()
    }


def differences(old: CaseKey, new: CaseKey) -> list[str]:
    """What changed from ``old`` to ``new``, one phrase per facet: ``chunk_size 8MiB -> 64MiB``."""
    before, after = _facets(old), _facets(new)
    changes = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        if name.startswith(("param:", "process:")):
            param = name.split(":", 1)[1]
            old_value = dict(old.params if name.startswith("param:") else old.process_params)
            new_value = dict(new.params if name.startswith("param:") else new.process_params)
            changes.append(
                f"{param} {_or_unset(old_value.get(param, _UNSET))} -> "
                f"{_or_unset(new_value.get(param, _UNSET))}"
            )
        else:
            changes.append(f"{before.get(name, '-')} -> {after.get(name, '-')}")
    if old.strategy != new.strategy:
        changes.insert(0, f"strategy {old.strategy} -> {new.strategy}")
    if old.size_bytes != new.size_bytes:
        changes.insert(0, f"size {decimal_size(old.size_bytes)} -> {decimal_size(new.size_bytes)}")
    if (old.concurrency, old.pool) != (new.concurrency, new.pool):
        changes.append(f"concurrency {old.concurrency} {old.pool} -> {new.concurrency} {new.pool}")
    return changes


_UNSET = object()


def _or_unset(value: Any) -> str:
    return "(unset)" if value is _UNSET else format_value(value)
