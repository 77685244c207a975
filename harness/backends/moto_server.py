"""moto's server (S3, Textract and the rest of AWS in one process), launched by the harness.

moto keeps objects in its own memory and reads the whole object on every GET, ranged ones
included: fine for the default comparison and for Textract, which never reads the object, but
too slow for GB-scale ranged strategies (use s3rver for those). It accepts any credentials; the
harness gives it fixed fake ones so that no real key is ever sent to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from memharness_s3.s3.backends.launcher import HOST, LaunchedServer, ServerSpec, free_port

__all__ = ["CREDENTIALS", "MotoServer", "free_port", "spec"]

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "memharness-moto",
    "AWS_SECRET_ACCESS_KEY": "memharness-moto",
}


def _argv(port: int, data_dir: Path | None) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]


def spec() -> ServerSpec:
    """The launch spec: this interpreter's ``moto.server`` (moto is a dependency)."""
    return ServerSpec(
        name="moto server",
        argv=_argv,
        credentials=CREDENTIALS,
        health_path="/moto-api/data.json",
        env=CREDENTIALS,
    )


class MotoServer(LaunchedServer):
    """Context manager: ``with MotoServer(log) as url:`` runs a moto server for the block."""

    CREDENTIALS: ClassVar[dict[str, str]] = CREDENTIALS

    def __init__(self, log_path: Path) -> None:
        super().__init__(spec(), log_path)
