"""Generated PDF fixtures cached on disk, each with a manifest (size, sha256, pages, seed).

The cache lives in ``$MEMHARNESS_CACHE`` or ``$XDG_CACHE_HOME/memharness`` (by default
``~/.cache/memharness``), outside the repository. An entry is used only when its manifest parses,
names the same generator version, and the file's size and sha256 match it; anything else (a
partial write, a flipped byte, a missing manifest) is regenerated. Hashing a 2 GB file takes
seconds, so the manifest also records the file's state (``paths.file_state``: size, mtime,
ctime, inode) when its sha256 last matched, and the hash is skipped while that state is the
same: any write to the file since changes its ctime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from memharness_s3.config.sizes import format_size, resolve_size
from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.model.checksums import file_crc32
from memharness_s3.paths import file_state, make_writable_dir
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
    crc32: int | None = None
    """CRC-32 of the file: what workers verify their fetched bytes against (``checksums``).
    Added after the sha256; a manifest written before has none until the file is next read."""

    @property
    def object_key(self) -> str:
        return f"fixtures/{self.path.name}"


def cache_root() -> Path:
    """The fixture cache directory (not created)."""
    if explicit := os.environ.get("MEMHARNESS_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memharness"


def resolve_fixture_size(text: str) -> tuple[str, int]:
    """:func:`resolve_size` for a fixture size: UsageError unless the generator can write it."""
    name, size_bytes = resolve_size(text)
    check_fixture_size(name, size_bytes)
    return name, size_bytes


def check_fixture_size(name: str, size_bytes: int) -> None:
    """Raise UsageError, naming the limit, when no fixture of ``size_bytes`` can be generated."""
    if (problem := target_bytes_problem(size_bytes)) is not None:
        raise UsageError(f"size {name!r} is {problem}")


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
        crc32=file_crc32(path)[1],
    )
    _write_manifest(fixture)
    return fixture


def _write_manifest(fixture: Fixture) -> None:
    """The manifest of a fixture whose file was just proven to match it (written or hashed),
    with the file's state now; written whole and renamed, so a reader never sees half of it."""
    manifest: dict[str, object] = {**asdict(fixture), "path": fixture.path.name}
    manifest["verified_state"] = file_state(fixture.path)
    target = _manifest_path(fixture.path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


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
            crc32=int(manifest["crc32"]) if manifest.get("crc32") is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if fixture.generator != GENERATOR_VERSION:
        return None
    state = file_state(path)
    if state is None or state[0] != fixture.size_bytes:
        return None
    if manifest.get("verified_state") == state and fixture.crc32 is not None:
        return fixture
    try:
        if manifest.get("verified_state") != state and _sha256(path) != fixture.sha256:
            return None
        # the CRC-32 of a file whose sha256 matched, read again after it: a write in between
        # changes its state, which the next session sees
        fixture = replace(fixture, crc32=file_crc32(path)[1])
    except OSError:
        return None
    if file_state(path) != state:
        return None
    with contextlib.suppress(OSError):  # unrecorded, the next session hashes it again
        _write_manifest(fixture)
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
