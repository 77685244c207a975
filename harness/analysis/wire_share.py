"""``of wire`` where it means something, and why a share above 1 is not a fetch outrunning the wire.

``of wire`` is a run's MB/s over its object's ``wire_mb_s``: a plain GET of the same object,
measured once per object and run, before the runs, as the median of a few single-stream GETs
(``harness/wire.py``). Two things make the quotient meaningless, and every view applies the same
rules through this module:

- on moto the wire is moto's own speed: its server reads the whole object from its store into
  memory on every GET, so a share of it says how fast moto is, not how close a strategy came to
  the wire; it is not shown at all;
- above ``CEILING`` the quotient says the yardstick was beaten, which one stream of the same
  bytes cannot do: the strategy had several GETs in flight against the yardstick's one, or the
  yardstick was measured once and the machine or the page cache were faster later. Such a
  share is shown with ``MARK`` and a caveat that names, per case, the reason the data supports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memharness_s3.analysis.cases import Analysis, CaseRuns
from memharness_s3.model.records import RunResult, of_wire

NOT_A_YARDSTICK = frozenset({"moto"})
"""Backends whose raw GET speed is the server's, not the wire's (moto copies every object into
memory per GET)."""

CEILING = 1.1
"""Shares up to this are shown as they are (a fetch at the wire's speed reads about 0.9-1.1 of
one measurement of it, see README "Measurement fidelity"); above it a share is marked and the
caveat says why."""

MARK = "\u2020"
"""Appended to a share above ``CEILING``; the caveat that starts with it says why."""

UNSTEADY_YARDSTICK = 1.1
"""The yardstick's own GETs are called unsteady when the fastest is this many times the slowest."""


def shown_of_wire(result: RunResult) -> float | None:
    """The run's share of the wire, or None where it means nothing (no wire, or moto's)."""
    if result.backend in NOT_A_YARDSTICK:
        return None
    return of_wire(result)


def text(share: float | None) -> str:
    """A share as the tables show it: two decimals, ``MARK`` above ``CEILING``, ``-`` for none."""
    if share is None:
        return "-"
    return f"{share:.2f}{MARK if share > CEILING else ''}"


def hidden_on(results: Sequence[RunResult]) -> list[str]:
    """The backends of ``results`` whose runs have a wire speed that is not shown."""
    return sorted(
        {r.backend for r in results if r.backend in NOT_A_YARDSTICK and of_wire(r) is not None}
    )


def above_wire_caveat(analysis: Analysis, meta: dict[str, Any] | None = None) -> str | None:
    """One caveat naming every case with a shown share above ``CEILING`` and why, or None.

    ``meta``: meta.json as written; its ``wire_mb_s`` holds every GET of the yardstick per object
    key, which tells an unsteady or cold yardstick from a steady one.
    """
    samples = (meta or {}).get("wire_mb_s")
    named = []
    for case in analysis.cases:
        shares = [s for s in map(shown_of_wire, case.runs) if s is not None]
        if not shares or max(shares) <= CEILING:
            continue
        reason = _why(case, samples if isinstance(samples, dict) else {})
        named.append(f"{case.label} (up to {max(shares):.2f}: {reason})")
    if not named:
        return None
    return (
        f"{MARK} of wire above {CEILING} in {len(named)} case{'s' if len(named) > 1 else ''}: "
        f"{'; '.join(named)}. A fetch cannot outrun the wire, only the one measurement of it: "
        "the yardstick is a median of single-stream GETs taken once per object before the runs, "
        "so read these as at least as fast as the wire, not faster."
    )


def _why(case: CaseRuns, samples: dict[str, Any]) -> str:
    """The reasons the data supports for this case's share above the wire, most specific first."""
    reasons = []
    in_flight = _gets_in_flight(case.first)
    if in_flight > 1:
        reasons.append(f"{in_flight} GETs in flight against the yardstick's one stream")
    yardstick = _yardstick_samples(case, samples)
    if len(yardstick) > 1 and max(yardstick) > UNSTEADY_YARDSTICK * min(yardstick):
        low, high = min(yardstick), max(yardstick)
        reasons.append(
            f"the yardstick's own GETs ranged {low:.0f}-{high:.0f} MB/s"
            + (", its first (cold) the slowest" if yardstick[0] == low else "")
        )
    speeds = [r.throughput_mb_s for r in case.runs if r.throughput_mb_s]
    if len(speeds) > 1 and max(speeds) > UNSTEADY_YARDSTICK * min(speeds):
        reasons.append(
            f"the case's own runs ranged {min(speeds):.0f}-{max(speeds):.0f} MB/s on this machine"
        )
    if not reasons:
        reasons.append(
            "the yardstick was measured once, before the runs; they met a warmer page cache "
            "or a faster moment of this machine"
        )
    return "; ".join(reasons)


def _gets_in_flight(result: RunResult) -> int:
    """How many GETs the strategy's parameters let it have in flight at once (1 if it says none)."""
    if result.params.get("use_threads") is False:
        return 1
    for name in ("max_concurrency", "concurrency"):
        value = result.params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            return value
    return 1


def _yardstick_samples(case: CaseRuns, samples: dict[str, Any]) -> list[float]:
    """The yardstick's GETs (MB/s, in the order taken) of the object this case fetched."""
    for run in case.runs:
        found = samples.get(run.object_key)
        if isinstance(found, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in found
        ):
            return [float(v) for v in found if v > 0]
    return []
