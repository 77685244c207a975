"""Generated PDF fixtures cached on disk, each with a manifest (size, sha256, pages, seed).

The cache lives in ``$MEMHARNESS_CACHE`` or ``$XDG_CACHE_HOME/memharness`` (by default
``~/.cache/memharness``), outside the repository. An entry is used only when its manifest parses,
names the same generator version, and the file's size and sha256 match it; anything else (a
partial write, a flipped byte, a missing manifest) is regenerated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from memharness_s3.config.sizes import format_size, parse_size
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.fixtures.catalog import DEFAULT_RUN_SIZES, NAMED_SIZES
from memharness_s3.paths import make_writable_dir
from memharness_s3.s3.pdfgen import DEFAULT_PAGE_BYTES, target_bytes_problem, write_pdf

GENERATOR_VERSION = 2
DISK_MARGIN_BYTES = 256 * 10**6


@dataclass(frozen=True)
class Fixture:
    """A generated PDF on disk and what is known about it."""

    name: str
    path: Path
    size_bytes: int
    sha256: str
    pages: int
    seed: str
    page_bytes: int
    generator: int = GENERATOR_VERSION

    @property
    def object_key(self) -> str:
        return f"fixtures/{self.path.name}"


def cache_root() -> Path:
    """The fixture cache directory (not created)."""
    if explicit := os.environ.get("MEMHARNESS_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memharness"


def resolve_size(text: str) -> tuple[str, int]:
    """A catalog name (``small``) or a size string (``64MB``) as ``(name, bytes)``.

    Any positive size: right for a threshold such as an expectation's ``min_size``. A size that
    a fixture will be generated at goes through :func:`resolve_fixture_size` instead.
    """
    text = text.strip()
    if text.lower() in NAMED_SIZES:
        return text.lower(), NAMED_SIZES[text.lower()]
    return text, parse_size(text)


def resolve_fixture_size(text: str) -> tuple[str, int]:
    """:func:`resolve_size` for a fixture size: UsageError unless the generator can write it."""
    name, size_bytes = resolve_size(text)
    check_fixture_size(name, size_bytes)
    return name, size_bytes


def check_fixture_size(name: str, size_bytes: int) -> None:
    """Raise UsageError, naming the limit, when no fixture of ``size_bytes`` can be generated."""
    if (problem := target_bytes_problem(size_bytes)) is not None:
        raise UsageError(f"size {name!r} is {problem}")


def resolve_sizes(text: str | None) -> list[tuple[str, int]]:
    """``--sizes`` (comma-separated; the default run sizes when None) as (name, bytes) pairs.

    Each is a fixture size, checked against the generator's range.
    """
    items = [item for item in (text or ",".join(DEFAULT_RUN_SIZES)).split(",") if item.strip()]
    if not items:
        raise UsageError("empty --sizes list")
    return [resolve_fixture_size(item) for item in items]


def ensure_fixture(
    name: str,
    size_bytes: int,
    seed: str,
    root: Path,
    page_bytes: int = DEFAULT_PAGE_BYTES,
) -> Fixture:
    """Return the cached fixture, generating it first when it is missing or not intact.

    A size outside the generator's range is a UsageError here too, for callers that did not
    resolve it with :func:`resolve_fixture_size`.
    """
    check_fixture_size(name, size_bytes)
    folder = root / "fixtures"
    path = folder / f"memharness-{size_bytes}B-{_safe(seed)}-p{page_bytes}.pdf"
    cached = _load_intact(path, name)
    if cached is not None:
        return cached
    _check_writable_with_space(folder, size_bytes)
    generated = write_pdf(path, size_bytes, seed, page_bytes)
    fixture = Fixture(
        name=name,
        path=path,
        size_bytes=generated.size_bytes,
        sha256=generated.sha256,
        pages=generated.pages,
        seed=seed,
        page_bytes=page_bytes,
    )
    manifest = asdict(fixture)
    manifest["path"] = path.name
    _manifest_path(path).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return fixture


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _load_intact(path: Path, name: str) -> Fixture | None:
    try:
        manifest = json.loads(_manifest_path(path).read_text())
        fixture = Fixture(
            name=name,
            path=path,
            size_bytes=int(manifest["size_bytes"]),
            sha256=str(manifest["sha256"]),
            pages=int(manifest["pages"]),
            seed=str(manifest["seed"]),
            page_bytes=int(manifest["page_bytes"]),
            generator=int(manifest["generator"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if fixture.generator != GENERATOR_VERSION:
        return None
    try:
        if path.stat().st_size != fixture.size_bytes or _sha256(path) != fixture.sha256:
            return None
    except OSError:
        return None
    return fixture


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _check_writable_with_space(folder: Path, size_bytes: int) -> None:
    make_writable_dir(
        folder,
        "fixture cache",
        "; set MEMHARNESS_CACHE or --cache-dir to a writable directory",
    )
    free = shutil.disk_usage(folder).free
    if free < size_bytes + DISK_MARGIN_BYTES:
        raise RunFailed(
            f"not enough disk for a {format_size(size_bytes)} fixture in {folder}: "
            f"{format_size(free)} free, need {format_size(size_bytes + DISK_MARGIN_BYTES)}"
        )


def _safe(seed: str) -> str:
    """A file-name-safe form of the seed that still tells different seeds apart."""
    readable = "".join(c if c.isalnum() or c in "-_" else "_" for c in seed)[:40]
    return f"{readable}-{hashlib.sha256(seed.encode()).hexdigest()[:8]}"
