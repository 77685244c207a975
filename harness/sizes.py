"""Byte sizes as people write them.

KB, MB, GB and TB are decimal (10**3 ...), as S3, disks and the AWS documentation count them;
KiB, MiB, GiB and TiB are binary (2**10 ...). A bare number is bytes. B is optional.
"""

from __future__ import annotations

import re
from fractions import Fraction

from memharness_s3.errors import UsageError

_UNITS = {
    "": 1,
    "B": 1,
    "K": 10**3,
    "KB": 10**3,
    "M": 10**6,
    "MB": 10**6,
    "G": 10**9,
    "GB": 10**9,
    "T": 10**12,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
MAX_SIZE_BYTES = 10**15
"""1 PB: no object, cap, budget or parameter the harness measures comes near it."""
_MAX_TEXT = 40
"""Characters of a size string: ``999999999999999`` and a unit fit many times over."""


def parse_size(text: str) -> int:
    """Return the number of bytes ``text`` names; raise UsageError if it is not a positive size
    of whole bytes up to :data:`MAX_SIZE_BYTES`."""
    match = _SIZE.match(text) if len(text) <= _MAX_TEXT else None
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(
            f"malformed size {_quote(text)}: expected a positive number with an optional unit "
            "(B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary), e.g. 250MB or 8MiB"
        )
    value = Fraction(match.group(1)) * _UNITS[unit]
    if value < 1:
        raise UsageError(f"size {text!r} is below one byte: sizes must be positive")
    if value > MAX_SIZE_BYTES:
        raise UsageError(f"size {text!r} is above the largest the harness takes (1 PB)")
    if value.denominator != 1:
        raise UsageError(f"size {text!r} is not a whole number of bytes")
    return int(value)


def parse_size_with_unit(text: str, option: str) -> int:
    """:func:`parse_size` for an option where a bare number is ambiguous (``--budget 512``: bytes
    or megabytes?): the unit is required, ``B`` for bytes."""
    match = _SIZE.match(text) if len(text) <= _MAX_TEXT else None
    if match is not None and not match.group(2):
        raise UsageError(
            f"{option} {text!r} has no unit: write e.g. {text.strip()}MiB, {text.strip()}MB or "
            f"{text.strip()}B for bytes"
        )
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _quote(text: str) -> str:
    """``text`` quoted for a message, cut when long (a 400-digit number is not worth echoing)."""
    return (
        repr(text)
        if len(text) <= _MAX_TEXT
        else f"{text[:_MAX_TEXT]!r}... ({len(text):,} characters)"
    )


def format_size(num_bytes: float) -> str:
    """Render bytes in decimal units with three significant figures (e.g. ``250 MB``)."""
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} TB"


def format_mb(num_bytes: float | None) -> str:
    """Render bytes as decimal megabytes with one decimal, or ``-`` when unknown."""
    return "-" if num_bytes is None else f"{num_bytes / 1e6:.1f}"


def format_budget(limit_bytes: int, scope: str) -> str:
    """A memory limit with what it caps, as every view prints it: ``512 MiB per worker``,
    ``512 MiB shared by the node``."""
    amount = f"{limit_bytes // 2**20} MiB" if limit_bytes % 2**20 == 0 else format_size(limit_bytes)
    return f"{amount} shared by the node" if scope == "node" else f"{amount} per worker"
