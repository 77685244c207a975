"""``--fault`` specs: parsed once, in a pure module, into a ``Fault`` the proxy acts on.

Kept apart from the proxy so that the command line and matrix files can reject a malformed spec
in one line before any server starts, and the proxy process re-parses the same text it is given.

Grammar (``P`` a percentage below 100, ``N`` a positive count)::

    reset-mid-body@P%   RST the client connection after P% of a GET response body (once)
    truncate[@P%]       full headers with the real Content-Length, then close after P%
                        (default 50%) of a GET body (once)
    slowdown-503:N      answer the first N object requests with S3's 503 SlowDown error
    error-500:N         answer the first N object requests with S3's 500 InternalError
    latency:200ms       hold each object response this long (ms or s) before its headers
    bandwidth:20MB/s    throttle object response bodies to this rate, all connections together
    backend-kill@P%     the runner kills the backend after P% of a GET body (once)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from memharness_s3.config.sizes import parse_size
from memharness_s3.errors import UsageError

NO_FAULT = "none"


class Kind(StrEnum):
    """The faults the proxy knows, by the name a spec starts with."""

    RESET_MID_BODY = "reset-mid-body"
    TRUNCATE = "truncate"
    SLOWDOWN_503 = "slowdown-503"
    ERROR_500 = "error-500"
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    BACKEND_KILL = "backend-kill"


EXAMPLES = (
    "reset-mid-body@30%",
    "truncate",
    "slowdown-503:3",
    "error-500:2",
    "latency:200ms",
    "bandwidth:20MB/s",
    "backend-kill@30%",
)
DEFAULT_TRUNCATE_FRACTION = 0.5
_SHAPES = {
    Kind.RESET_MID_BODY: "a share of the body, e.g. reset-mid-body@30%",
    Kind.TRUNCATE: "nothing or a share of the body, e.g. truncate@50%",
    Kind.SLOWDOWN_503: "a request count, e.g. slowdown-503:3",
    Kind.ERROR_500: "a request count, e.g. error-500:2",
    Kind.LATENCY: "a duration, e.g. latency:200ms",
    Kind.BANDWIDTH: "a rate, e.g. bandwidth:20MB/s",
    Kind.BACKEND_KILL: "a share of the body, e.g. backend-kill@30%",
}

_AT_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_COUNT = re.compile(r"^[1-9]\d*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


@dataclass(frozen=True)
class Fault:
    """One fault: its kind and the one number that kind takes."""

    kind: Kind
    text: str
    """The spec as given, stripped: how results and case ids name the fault."""
    fraction: float = 0.0
    """Share of a body forwarded before acting (reset-mid-body, truncate, backend-kill)."""
    count: int = 0
    """How many object requests get the error (slowdown-503, error-500)."""
    delay_s: float = 0.0
    """Wait before each object response (latency)."""
    bytes_per_s: int = 0
    """Rate of all object response bodies together (bandwidth)."""


def parse_fault(text: str) -> Fault:
    """The ``Fault`` that ``text`` names; a malformed spec is a one-line UsageError."""
    spec = text.strip()
    name, sep, arg = _split(spec)
    try:
        kind = Kind(name)
    except ValueError:
        raise _malformed(spec, f"unknown fault {name!r}") from None
    if kind is Kind.TRUNCATE and not sep:
        return Fault(kind, spec, fraction=DEFAULT_TRUNCATE_FRACTION)
    wanted = "@" if kind in (Kind.RESET_MID_BODY, Kind.TRUNCATE, Kind.BACKEND_KILL) else ":"
    if sep != wanted or not arg:
        raise _malformed(spec, f"{kind.value} takes {_SHAPES[kind]}")
    if wanted == "@":
        return Fault(kind, spec, fraction=_fraction(spec, arg))
    if kind in (Kind.SLOWDOWN_503, Kind.ERROR_500):
        if not _COUNT.match(arg):
            raise _malformed(spec, f"{kind.value} takes a request count of 1 or more")
        return Fault(kind, spec, count=int(arg))
    if kind is Kind.LATENCY:
        found = _DURATION.match(arg)
        if not found or float(found.group(1)) <= 0:
            raise _malformed(spec, "latency takes a positive duration in ms or s, e.g. 200ms")
        scale = 1e-3 if found.group(2) == "ms" else 1.0
        return Fault(kind, spec, delay_s=float(found.group(1)) * scale)
    if not arg.endswith("/s"):
        raise _malformed(spec, "bandwidth takes a rate such as 20MB/s")
    try:
        rate = parse_size(arg[:-2])
    except UsageError:
        raise _malformed(spec, "bandwidth takes a rate such as 20MB/s") from None
    return Fault(kind, spec, bytes_per_s=rate)


def parse_fault_list(values: list[str]) -> list[str | None]:
    """Validated fault specs, each its own set of cases; ``none`` is the run without a fault."""
    faults: list[str | None] = []
    for value in values:
        fault = None if value.strip() == NO_FAULT else parse_fault(value).text
        if fault in faults:
            raise UsageError(f"fault {value.strip()!r} is given twice")
        faults.append(fault)
    return faults


def _split(spec: str) -> tuple[str, str, str]:
    """``name``, the separator (``@``, ``:`` or nothing) and the argument."""
    at = min((i for i in (spec.find("@"), spec.find(":")) if i >= 0), default=-1)
    if at < 0:
        return spec, "", ""
    return spec[:at], spec[at], spec[at + 1 :]


def _fraction(spec: str, arg: str) -> float:
    found = _AT_PERCENT.match(arg)
    if not found or float(found.group(1)) >= 100:
        raise _malformed(spec, "the share of the body must be a percentage below 100, e.g. @30%")
    return float(found.group(1)) / 100


def _malformed(spec: str, why: str) -> UsageError:
    return UsageError(
        f"malformed fault {spec!r}: {why}; faults are {', '.join(EXAMPLES)} (or none)"
    )
