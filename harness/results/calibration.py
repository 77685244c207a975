"""The calibration file: how each case's peak scattered between runs of the same code.

``memharness calibrate DIR DIR ...`` writes it from several results directories of the same code
and matrix (:func:`write`); ``memharness gate --calibration FILE`` reads it (:func:`read`) as the
noise floor for comparisons with fewer than 3 repeats a side (``analysis.noise``). The file is
JSON, one entry per case id, each with the case's name, strategy and size for people reading it:

    {"memharness_calibration": 1, "runs": 12, "sources": ["run-00", ...],
     "cases": {"<case id>": {"label": "transfer-manager 250MB x1", "strategy": ...,
                             "size_bytes": ..., "runs": 12, "repeats": 36,
                             "sigma_bytes": ..., "spread_bytes": ...}}}

A file from elsewhere is untrusted: every field is checked, and a bad one is one line naming it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memharness_s3.analysis.noise import CaseNoise, NoiseFloor
from memharness_s3.errors import UsageError

FORMAT_KEY = "memharness_calibration"
FORMAT_VERSION = 1
MAX_NUMBER = 2**63
"""No byte count or run count in a calibration file is larger (NaN and infinity fail too)."""
DEFAULT_NAME = "calibration.json"
"""The name ``calibrate`` writes by default, and the gate looks for in a baseline directory."""


def to_json(floor: NoiseFloor, sources: Sequence[str]) -> str:
    cases = {
        case_id: {
            "label": noise.label,
            "strategy": noise.strategy,
            "size_bytes": noise.size_bytes,
            "runs": noise.runs,
            "repeats": noise.repeats,
            "sigma_bytes": round(noise.sigma_bytes, 1),
            "spread_bytes": round(noise.spread_bytes, 1),
        }
        for case_id, noise in sorted(floor.cases.items(), key=lambda item: item[1].label)
    }
    document = {
        FORMAT_KEY: FORMAT_VERSION,
        "runs": len(sources),
        "sources": list(sources),
        "cases": cases,
    }
    return json.dumps(document, indent=2) + "\n"


def write(path: Path, floor: NoiseFloor, sources: Sequence[str]) -> None:
    try:
        path.write_text(to_json(floor, sources), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write calibration {path}: {exc.strerror or exc}") from None


def read(path: Path, source: str | None = None) -> NoiseFloor:
    """The floor a calibration file records; UsageError with one line when it is not one.

    ``source``: how the gate's lines cite it (default ``calibration PATH``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read calibration {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise UsageError(
            f"calibration {path} is not JSON (write it with memharness calibrate)"
        ) from None
    if not isinstance(document, dict) or document.get(FORMAT_KEY) != FORMAT_VERSION:
        raise UsageError(
            f"calibration {path} is not a memharness calibration file (version "
            f"{FORMAT_VERSION}); write it with memharness calibrate"
        )
    raw = document.get("cases")
    if not isinstance(raw, dict):
        raise UsageError(f"calibration {path}: 'cases' must be an object")
    cases = {str(case_id): _case(path, str(case_id), entry) for case_id, entry in raw.items()}
    return NoiseFloor(source or f"calibration {path}", cases)


def _case(path: Path, case_id: str, entry: Any) -> CaseNoise:
    if not isinstance(entry, dict):
        raise UsageError(f"calibration {path}: case {case_id[:40]!r} must be an object")

    def field(name: str, kind: type) -> Any:
        value: Any = entry.get(name)
        number = kind is float and isinstance(value, int) and not isinstance(value, bool)
        if not (isinstance(value, kind) and not isinstance(value, bool)) and not number:
            raise UsageError(
                f"calibration {path}: case {case_id[:40]!r}: field {name!r} must be {kind.__name__}"
            )
        # Compared before any float conversion: a 400-digit integer must not overflow one.
        if kind is not str and not 0 <= value <= MAX_NUMBER:
            raise UsageError(
                f"calibration {path}: case {case_id[:40]!r}: field {name!r} must be a number "
                f"from 0 to {MAX_NUMBER}"
            )
        return value

    return CaseNoise(
        label=field("label", str)[:200],
        strategy=field("strategy", str)[:200],
        size_bytes=field("size_bytes", int),
        runs=field("runs", int),
        repeats=field("repeats", int),
        sigma_bytes=float(field("sigma_bytes", float)),
        spread_bytes=float(field("spread_bytes", float)),
    )
