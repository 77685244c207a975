"""Bounds on what a run costs, ``peak - baseline``, as an expectation states them.

A bound is one of three texts:

- ``"0.9 x object"``: a multiple of the object's size (a trap holds the object: at least 0.9 x);
- ``"2 x part_size"``: a multiple of one of the strategy's size parameters, as the case ran it
  (a fix keeps a bounded number of parts);
- ``"64MiB"``: a size (decimal MB or binary MiB, as everywhere).

``expectation_checks`` holds every ok run of a case to the bounds of the expectations covering
it and says, per bound, what it compared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memharness_s3.config.sizes import format_mb, parse_size
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Expectation, RunResult

OBJECT = "object"
_MULTIPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[x*]\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass(frozen=True)
class CostBound:
    """A cost bound: ``factor`` x ``of`` (``"object"`` or a parameter name), or ``size_bytes``."""

    text: str
    factor: float = 0.0
    of: str | None = None
    size_bytes: int = 0

    def limit(self, size_bytes: int, params: Mapping[str, Any]) -> int:
        """The bound in bytes for a case on an object of ``size_bytes`` run with ``params``."""
        if self.of is None:
            return self.size_bytes
        if self.of == OBJECT:
            return round(self.factor * size_bytes)
        return round(self.factor * int(params[self.of]))


def parse_cost_bound(text: str, strategy_params: Mapping[str, Any] | None = None) -> CostBound:
    """The bound ``text`` states; UsageError naming the three forms otherwise.

    ``strategy_params`` (the strategy's defaults), when given, must have the parameter a
    multiple names, as a size.
    """
    found = _MULTIPLE.match(text)
    if found:
        factor, of = float(found.group(1)), found.group(2)
        if factor <= 0:
            raise UsageError(f"cost bound {text!r}: the factor must be positive")
        if strategy_params is not None and of != OBJECT:
            default = strategy_params.get(of)
            if not isinstance(default, int) or isinstance(default, bool):
                sizes = [k for k, v in strategy_params.items() if type(v) is int]
                raise UsageError(
                    f"cost bound {text!r}: {of!r} is not a size parameter of the strategy "
                    f"(it has: {', '.join(sizes) or 'none'}; or use 'object')"
                )
        return CostBound(text.strip(), factor=factor, of=of)
    try:
        return CostBound(text.strip(), size_bytes=parse_size(text))
    except UsageError:
        raise UsageError(
            f"malformed cost bound {text!r}: expected e.g. '0.9 x object', '2 x part_size' "
            "(a size parameter of the strategy) or '64MiB'"
        ) from None


@dataclass(frozen=True)
class Check:
    """One bound of one expectation held against the ok runs of one case."""

    passed: bool
    text: str
    """What was compared, with the numbers: the line ``memharness gate`` prints."""


def expectation_checks(
    label: str,
    runs: Sequence[RunResult],
    size_bytes: int,
    params: Mapping[str, Any],
    expectations: Sequence[Expectation],
) -> list[Check]:
    """Every cost bound of ``expectations`` (those covering the case) against its ok runs."""
    checks = []
    ok = [r for r in runs if r.status == "ok"]
    costs = [r.strategy_cost_bytes for r in ok]
    for expectation in expectations:
        for word, text, op in (
            (">=", expectation.cost_at_least, min),
            ("<=", expectation.cost_at_most, max),
        ):
            if text is None:
                continue
            bound = parse_cost_bound(text)
            limit = bound.limit(size_bytes, params)
            why = f" ({expectation.issue})" if expectation.issue else ""
            stated = f"{bound.text} = {format_mb(limit)} MB"
            if not ok or any(cost is None for cost in costs):
                checks.append(
                    Check(
                        False,
                        f"{label}: peak - baseline {word} {stated}{why}: "
                        f"{len(ok)} of {len(runs)} runs ended ok with a measured cost, "
                        "nothing to compare",
                    )
                )
                continue
            worst = op(cost for cost in costs if cost is not None)
            passed = worst >= limit if word == ">=" else worst <= limit
            which = "lowest" if word == ">=" else "highest"
            of_runs = f", {which} of {len(ok)} ok runs" if len(ok) > 1 else ""
            checks.append(
                Check(
                    passed,
                    f"{label}: peak - baseline {format_mb(worst)} MB{of_runs} "
                    f"{word if passed else _negated(word)} {stated}{why}",
                )
            )
    return checks


def _negated(word: str) -> str:
    return "<" if word == ">=" else ">"
