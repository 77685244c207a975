"""The gate's options as the user writes them: ``--expect``, ``--budget``, ``--tolerance``,
``--warn``.

Parsed here, before anything is loaded, into the values ``analysis.gate.evaluate`` takes.
"""

from __future__ import annotations

import math

from memharness_s3.config.sizes import parse_size_with_unit, resolve_size
from memharness_s3.errors import UsageError
from memharness_s3.model.records import FAILED_STATUSES, Expectation


def parse_expectation(text: str) -> Expectation:
    """``--expect STRATEGY:MIN_SIZE:STATUS``, e.g. ``read-all:500MB:oom`` or ``read-all:large:oom``.

    Only failure statuses: an expectation excuses a run that did not end ok.
    """
    parts = text.split(":")
    if len(parts) != 3 or not all(part.strip() for part in parts):
        raise UsageError(
            f"malformed --expect {text!r}: expected STRATEGY:MIN_SIZE:STATUS, "
            "e.g. read-all:500MB:oom"
        )
    strategy, size, status = (part.strip() for part in parts)
    if status not in FAILED_STATUSES:
        raise UsageError(
            f"--expect {text!r}: status must be one of {', '.join(FAILED_STATUSES)}, got {status!r}"
        )
    try:
        _, min_size = resolve_size(size)
    except UsageError as exc:
        raise UsageError(f"--expect {text!r}: {exc}") from None
    return Expectation(strategy, min_size, status, f"--expect {text}")


def parse_budget(text: str) -> int:
    """``--budget 512MiB``: the largest peak an ok run may reach (by its scope's figure), in
    bytes; a bare number is refused (``512``: bytes or megabytes?)."""
    return parse_size_with_unit(text, "--budget")


def parse_tolerance(text: str, option: str = "--tolerance") -> float:
    """``--tolerance 10%`` or ``0.1`` as a fraction; a bare number of 1 or more is ambiguous.

    ``option`` names the option in errors (``--warn`` takes the same form)."""
    cleaned = text.strip()
    try:
        value = float(cleaned.removesuffix("%"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"malformed {option} {text!r}: expected a percentage such as 10% or 0.1")
    if cleaned.endswith("%"):
        return value / 100
    if value >= 1:
        raise UsageError(
            f"ambiguous {option} {text!r}: write a percentage ({text}%) or a fraction below 1"
        )
    return value
