"""How long one run may take before the harness ends it as ``timeout``.

``--timeout`` (a matrix file's ``timeout``) is the user's limit, the same for every run. Without
one, each run's limit scales with what it moves over the wire:

    limit = max(300 s, 30 x object MB x concurrency / wire MB/s)

where wire MB/s is the plain-GET speed measured for that object at the start of the run
(``wire_mb_s``). 30x a plain GET leaves room for strategies slower than a GET by design (small
chunks, ranged parts, a processing step) on a loaded machine; 300 s covers a worker's start-up
and small objects. When the wire was not measured, the limit is :data:`UNMEASURED_LIMIT_S`. A run
that stops because the backend stopped answering is caught sooner by the health watch
(``backends.health``); this limit ends a run that cannot finish for its own reasons (a retry storm).
"""

from __future__ import annotations

from memharness_s3.model.records import Case

MIN_LIMIT_S = 300.0
SLOWDOWN = 30.0
UNMEASURED_LIMIT_S = 900.0


def run_limit_s(case: Case, wire_mb_s: float | None, timeout_s: float | None) -> float:
    """The wall-clock limit of one run of ``case``: ``timeout_s`` when the user gave one."""
    if timeout_s is not None:
        return timeout_s
    if not wire_mb_s:
        return UNMEASURED_LIMIT_S
    moved_mb = case.size_bytes * case.concurrency / 1e6
    return max(MIN_LIMIT_S, round(SLOWDOWN * moved_mb / wire_mb_s))


def describe_limit(limit_s: float, timeout_s: float | None) -> str:
    """How a timed-out run's error names its limit."""
    if timeout_s is not None:
        return f"--timeout {limit_s:g} s"
    return f"the run's limit of {limit_s:g} s (scaled to size and wire speed; --timeout sets one)"
