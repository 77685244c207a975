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

Optional class attributes: ``libraries``, the distributions whose versions meta.json records
next to the strategy's own (the client library it measures); ``opt_in = True`` keeps the
strategy out of a run that names no strategies (it runs when a matrix or ``--strategies`` names
it). A strategy whose library comes from an optional extra raises :class:`MissingExtra` at import
when it is missing: the registry then lists it as not installed, with the extra to install,
rather than as broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable


class MissingExtra(ImportError):
    """The library a strategy drives is not installed; the message says what to install."""

    def __init__(self, strategy: str, module: str, requirement: str) -> None:
        super().__init__(
            f"strategy {strategy!r} needs {module}, which is not installed: "
            f"install {requirement!r} (pip install '{requirement}')"
        )
        self.requirement = requirement


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
