"""From settings to the ordered list of runs, and which of them a results file already has.

A :class:`PlannedRun` is what planning hands to an executor: the case, its id (computed once,
here), the object each fetch gets and how those fetches are split between worker processes.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from memharness_s3.analysis.identity import COPY_SUFFIX, key_of_case, key_of_result
from memharness_s3.model.records import INFRA, Case, ObjectRef, RunResult, workers_of


@dataclass(frozen=True)
class PlannedRun:
    """A case, which repetition of it this is, and the object each of its fetches gets."""

    case: Case
    objects: list[ObjectRef]
    case_id: str
    """The case's id (``analysis.identity``), as every line of the run records it."""
    repeat: int = 0
    wire_mb_s: float | None = None
    """The object's raw GET throughput from this endpoint (``wire``), carried onto its results."""

    @classmethod
    def of(cls, case: Case, objects: list[ObjectRef], backend: str, repeat: int = 0) -> PlannedRun:
        """A run of ``case`` on ``backend`` (by name), its id computed from them."""
        return cls(case, objects, key_of_case(case, objects[0].key, backend).case_id, repeat)

    @property
    def fetched_bytes(self) -> int:
        """The bytes the run's fetches get in all: what its workers hold and free."""
        return sum(obj.size_bytes for obj in self.objects)

    @property
    def per_worker(self) -> list[list[ObjectRef]]:
        """The objects each worker process (a Celery task) of the run fetches: one each in a
        process pool, all of them in the one worker of a thread pool."""
        workers = self.case.workers
        return [self.objects[index::workers] for index in range(workers)]


def build_cases(
    sizes: Sequence[tuple[str, int]],
    strategies: Sequence[str],
    concurrency: Sequence[int],
    params: dict[str, dict[str, Any]],
    faults: Sequence[str | None] = (None,),
    process: str | Sequence[str] = "none",
    **common: Any,
) -> list[Case]:
    """Every size x concurrency x fault x strategy x parameter variant combination, small
    objects and low counts first, each fault's strategies together.

    A parameter whose value is a list (a matrix file's ``[params.X]`` list) gives one variant per
    value, and several such parameters every combination of their values; a list of processing
    steps gives a set of cases per step."""
    steps = [process] if isinstance(process, str) else list(process)
    return [
        Case(
            strategy=strategy,
            object_name=name,
            size_bytes=size,
            params=variant,
            concurrency=workers,
            fault=fault,
            process=step,
            **common,
        )
        for name, size in sizes
        for workers in concurrency
        for fault in faults
        for step in steps
        for strategy in strategies
        for variant in param_variants(params[strategy])
    ]


def param_variants(params: dict[str, Any]) -> list[dict[str, Any]]:
    """``params`` with each list-valued parameter replaced by each of its values, in order."""
    names = [name for name, value in params.items() if isinstance(value, list)]
    return [
        {**params, **dict(zip(names, values, strict=True))}
        for values in itertools.product(*(params[name] for name in names))
    ]


def object_copies(base: ObjectRef, count: int) -> list[ObjectRef]:
    """The objects ``count`` concurrent fetches get: the original, then ``.copy-N`` keys."""
    return [base] + [
        ObjectRef(
            bucket=base.bucket,
            key=f"{base.key}{COPY_SUFFIX}{index}",
            size_bytes=base.size_bytes,
            sha256=base.sha256,
            pages=base.pages,
            fixture=base.fixture,
            crc32=base.crc32,
        )
        for index in range(1, count)
    ]


def objects_for(case: Case, copies: Sequence[ObjectRef]) -> list[ObjectRef]:
    """Which object each of the case's fetches gets."""
    if case.shared_object:
        return [copies[0]] * case.concurrency
    return list(copies[: case.concurrency])


def completed_runs(results: Iterable[RunResult]) -> set[tuple[str, int]]:
    """``(case_id, repeat)`` of every run whose worker lines are all in ``results``; the case id
    is derived from each line's fields, as the analysis layer derives it. Lines of a run the
    backend broke (``infra``) do not count: a resumed run measures it again."""
    counts: Counter[tuple[str, int]] = Counter()
    needed: dict[tuple[str, int], int] = {}
    for result in results:
        if result.status == INFRA:
            continue
        key = (key_of_result(result).case_id, result.repeat)
        counts[key] += 1
        needed[key] = workers_of(result.concurrency, result.pool)
    return {key for key, count in counts.items() if count >= needed[key]}
