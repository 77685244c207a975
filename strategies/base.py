"""The strategy contract: everything a plug-in needs, on one screen.

A strategy gets one S3 object out of S3 the way a worker would, inside the measured worker
process. It is a class registered under the entry-point group ``memharness.strategies``::

    [project.entry-points."memharness.strategies"]
    my-strategy = "my_package.module:MyStrategy"

with a one-line ``description``, a ``params`` dict of parameter defaults (users override them with
``--param my-strategy.NAME=VALUE``; a default that is an int accepts sizes such as ``8MiB``), and a
``fetch(ctx)`` method that returns a ``Fetched``:

- ``Fetched(data=...)`` when the object ends up in memory as bytes;
- ``Fetched(path=...)`` when it ends up in a file, which must be inside ``ctx.tmp_dir``;
- ``Fetched()`` when nothing is downloaded (the object is handed to a service instead).

The harness verifies what was returned (byte count and sha256 against the object's manifest),
runs the processing step on it, then deletes the returned file. Anything else the strategy leaves
in ``ctx.tmp_dir`` is counted as a temp file left behind. Raise any exception to fail the run; its
class and first line are recorded. ``Fetched.details`` carries facts worth keeping (number of
requests, parts, job ids) into the results.

Modules import what the strategy needs at the top, as a real worker would: those imports are
part of the worker's measured baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass
class FetchContext:
    """What a strategy is given: a ready S3 client, the object, a private temp dir, parameters."""

    s3: Any
    bucket: str
    key: str
    tmp_dir: Path
    params: dict[str, Any]
    make_client: Callable[[str], Any]
    """Builds a client for another AWS service (e.g. ``"textract"``) on the same endpoint."""


@dataclass
class Fetched:
    """What a strategy got: bytes in memory, a file on disk, or nothing (a service read it)."""

    data: bytes | None = None
    path: Path | None = None
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Strategy(Protocol):
    """A way for a worker to get one object out of S3."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[dict[str, Any]]

    def fetch(self, ctx: FetchContext) -> Fetched:
        """Fetch ``ctx.bucket/ctx.key`` and return what was got."""
        ...
