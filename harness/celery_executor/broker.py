"""The broker: a private ``redis-server`` the run launches, or one the user names; its URL kept
out of everything written.

A launched Redis listens on 127.0.0.1 only, on a free port, with a random password given in a
0600 config file (never on a command line, where any user could read it in the process list),
no persistence, and dies with the harness (its process group is stopped by PID, and the kernel
kills it if the harness is killed). :func:`redact` is how a broker URL appears anywhere: in
meta.json, in messages, in logs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.execution.processes import die_with_parent
from memharness_s3.paths import TEMP_PREFIX
from memharness_s3.s3.backends.launcher import HOST, free_port, stop_process_group

REDIS_SERVER = "redis-server"
REDIS_HINT = (
    "no redis-server on PATH: install Debian's package (apt-get install redis-server) or give "
    "--broker URL"
)
STARTUP_TIMEOUT_S = 20.0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def require_password_off_loopback(url: str) -> None:
    """UsageError for a broker on another host whose URL carries no password: anyone who can
    reach such a broker can send tasks to every worker."""
    parts = urlsplit(url)
    remote = (parts.hostname or "localhost") not in LOOPBACK
    if parts.scheme.startswith(("redis", "amqp")) and remote and not parts.password:
        raise UsageError(
            f"broker {redact(url)} is reachable from other hosts and its URL has no "
            "password: give one (redis://:PASSWORD@HOST:6379/0, with requirepass set on "
            "the server)"
        )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


@contextlib.contextmanager
def launched_redis(log_path: Path, bind: str = HOST) -> Iterator[tuple[str, int]]:
    """Run a private redis-server for the block; yield its URL (with the password) and PID.

    ``bind``: the address it listens on; loopback unless nodes on other hosts must reach it.
    """
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        raise RunFailed(REDIS_HINT)
    port, password = free_port(), secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-redis-"))
    config = workdir / "redis.conf"
    config.touch(mode=0o600)
    config.write_text(
        f"bind {bind}\nport {port}\nprotected-mode yes\nrequirepass {password}\n"
        f'save ""\nappendonly no\ndir {workdir}\ndaemonize no\n'
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        _wait_listening(proc, bind, port, log_path)
        yield f"redis://:{password}@{bind}:{port}/0", proc.pid
    finally:
        stop_process_group(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_listening(proc: subprocess.Popen[bytes], host: str, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"redis-server exited with status {proc.returncode}; see {log_path}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RunFailed(f"redis-server did not listen on {host}:{port}; see {log_path}")


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """RunFailed in one line unless the broker at ``url`` accepts a connection and a login."""
    from kombu.connection import Connection

    connection: Any = cast(Any, Connection)(url, connect_timeout=timeout_s)
    try:
        connection.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:  # kombu raises the transport's own errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunFailed(f"broker {redact(url)} unreachable: {first}") from None
    finally:
        connection.release()
