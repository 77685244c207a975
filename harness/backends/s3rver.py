"""s3rver (a Node S3 server) launched by the harness, for GB-scale objects.

moto reads the whole object from its store on every GET, so a 2 GB ranged download against it
costs seconds per range; s3rver keeps objects as files in a data directory and streams each GET,
ranged ones included, from disk. The data directory is private (0700) to this launch and removed
when the server stops.

The executable is ``$MEMHARNESS_S3RVER`` if set, else ``s3rver`` on PATH, else the copy npm
installed under the cache directory; failing all three, it is installed there with npm on first
use (a fixed version, so every machine measures the same server).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from memharness_s3.errors import RunFailed
from memharness_s3.s3.backends.launcher import HOST, ServerSpec
from memharness_s3.s3.fixture_cache import cache_root

VERSION = "3.7.1"
INSTALL_TIMEOUT_S = 600.0
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
"""s3rver's built-in account. It rejects any other access key id but does not verify SigV4
signatures (nor refuse unsigned requests): it is a loopback-only test server, not a security
boundary."""


def spec() -> ServerSpec:
    """The launch spec, with the executable found (or installed) now."""
    executable = find_executable()

    def argv(port: int, data_dir: Path | None) -> list[str]:
        assert data_dir is not None
        return [
            str(executable),
            *("-d", str(data_dir)),
            *("-a", HOST),
            *("-p", str(port)),
            "--silent",
        ]

    return ServerSpec(
        name="s3rver",
        argv=argv,
        credentials=CREDENTIALS,
        health_path="/",
        needs_data_dir=True,
    )


def find_executable() -> Path:
    """``$MEMHARNESS_S3RVER``, ``s3rver`` on PATH, or the cached npm install (made if missing)."""
    if explicit := os.environ.get("MEMHARNESS_S3RVER"):
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RunFailed(f"s3rver backend: $MEMHARNESS_S3RVER={explicit} is not an executable")
        return path
    if on_path := shutil.which("s3rver"):
        return Path(on_path)
    prefix = cache_root() / "node"
    cached = prefix / "node_modules" / ".bin" / "s3rver"
    if not cached.is_file():
        _npm_install(prefix)
    return cached


def _npm_install(prefix: Path) -> None:
    package = f"s3rver@{VERSION}"
    command = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", package]
    by_hand = f"run `{shlex.join(command)}` by hand or set MEMHARNESS_S3RVER"
    npm = shutil.which("npm")
    if npm is None:
        raise RunFailed(f"s3rver backend: no s3rver installed and no npm on PATH; {by_hand}")
    print(f"memharness: installing s3rver {VERSION} with npm into {prefix}", file=sys.stderr)
    try:
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, *command[1:]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RunFailed(f"s3rver backend: npm install failed ({exc}); {by_hand}") from None
    installed = (prefix / "node_modules" / ".bin" / "s3rver").is_file()
    if done.returncode != 0 or not installed:
        said = [
            line.strip()
            for line in done.stderr.splitlines()
            if line.strip() and not line.startswith("npm error code ")
        ]
        why = f"exit status {done.returncode}" + (f": {said[0]}" if said else "")
        raise RunFailed(f"s3rver backend: npm install failed ({why}); {by_hand}")
