"""moto's S3 server as a separate process on 127.0.0.1, started and stopped by the harness.

The server must never share the measured worker's process: moto keeps objects in its own memory
and reads the whole object on every GET, so in-process it would be counted as the worker's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from harness.errors import RunFailed

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Context manager: ``with MotoServer(log) as url:`` runs a moto server for the block."""

    CREDENTIALS: ClassVar[dict[str, str]] = {
        "AWS_ACCESS_KEY_ID": "memharness-moto",
        "AWS_SECRET_ACCESS_KEY": "memharness-moto",
    }

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, **self.CREDENTIALS}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy(url)
        except BaseException:
            self.stop()
            raise
        return url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunFailed(
                    f"moto server exited with status {self.proc.returncode} at start-up; "
                    f"see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RunFailed(f"moto server did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
