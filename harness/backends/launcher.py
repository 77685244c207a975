"""One way to run a local S3 server for the harness: moto, s3rver and MinIO differ only in a spec.

Every launched server binds to 127.0.0.1 on a free port, runs in its own process group (so a
Ctrl-C meant for the harness does not reach it, and stopping it stops whatever it spawned), is
killed by the kernel if the harness dies (``die_with_parent``), and is health-checked before the
harness uses it. On exit, on an exception and on KeyboardInterrupt its group gets SIGTERM, then
SIGKILL after 5 s, and its private data directory (if it has one) is removed. Servers never share
the measured worker's process: their memory must not be counted as the worker's. A server that
stops answering mid-run is restarted on the same port (:meth:`LaunchedServer.restart`), with the
same data directory, so the URL every worker and node was given stays right and objects kept on
disk stay served (``backends.health`` decides when).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from memharness_s3.errors import RunFailed
from memharness_s3.execution.processes import die_with_parent
from memharness_s3.execution.procfs import work_done

HOST = "127.0.0.1"
STOP_GRACE_S = 5.0
STOP_POLL_S = 0.02
HEALTH_POLL_S = 0.1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerSpec:
    """What differs between launched servers."""

    name: str
    """How messages and the data directory's prefix name it (``moto server``, ``s3rver``)."""
    argv: Callable[[int, Path | None], list[str]]
    """The command line for a port on 127.0.0.1 and the data directory (None if it needs none)."""
    credentials: dict[str, str]
    """The fixed ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` its clients must use."""
    health_path: str
    """A path that answers a plain GET once the server is ready."""
    health_statuses: frozenset[int] = frozenset({200})
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to the harness's environment for the server process."""
    needs_data_dir: bool = False
    startup_timeout_s: float = 30.0


class LaunchedServer:
    """Context manager: ``with LaunchedServer(spec, log) as url:`` runs the server for the block."""

    def __init__(self, spec: ServerSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_dir: Path | None = None
        self.port: int | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def keeps_objects(self) -> bool:
        """Whether objects survive a restart: a server with a data directory keeps them on disk
        (s3rver, MinIO); moto keeps them in its own memory and loses them."""
        return self.spec.needs_data_dir

    def work_done(self) -> int | None:
        """A counter that grows while the server works (CPU time, bytes read and written);
        None when it is not running."""
        return work_done(self.proc.pid) if self.proc is not None else None

    def exit_status(self) -> int | None:
        """The server's exit status if its process has exited, else None."""
        return self.proc.poll() if self.proc is not None else None

    def __enter__(self) -> str:
        self.port = free_port()
        url = f"http://{HOST}:{self.port}"
        try:
            self._start(self.port)
            self._wait_healthy(self.port, url)
        except BaseException:
            self.stop()
            raise
        return url

    def restart(self) -> None:
        """Stop the server's process group and start it again on the same port and data directory.

        RunFailed when it does not come back (the port taken meanwhile, the executable gone).
        """
        assert self.port is not None, "restart() of a server that was never started"
        if self.proc is not None:
            stop_process_group(self.proc)
        self.restarts += 1
        try:
            self._start(self.port)
            self._wait_healthy(self.port, f"http://{HOST}:{self.port}")
        except RunFailed as exc:
            raise RunFailed(f"restarting {self.spec.name} (it stopped answering): {exc}") from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self, port: int) -> None:
        spec = self.spec
        if spec.needs_data_dir and self.data_dir is None:
            prefix = f"memharness-{spec.name.replace(' ', '-')}-"
            try:
                self.data_dir = Path(tempfile.mkdtemp(prefix=prefix))
            except OSError as exc:
                raise RunFailed(
                    f"{spec.name}: cannot create a data directory in "
                    f"{tempfile.gettempdir()}: {exc.strerror}"
                ) from None
        argv = spec.argv(port, self.data_dir)
        # A restart appends: the log of the run that stopped answering is the evidence.
        with open(self.log_path, "ab" if self.restarts else "wb") as log:
            try:
                self.proc = subprocess.Popen(
                    argv,
                    env={**os.environ, **spec.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            except OSError as exc:
                raise RunFailed(f"{spec.name}: cannot run {argv[0]}: {exc.strerror}") from None

    def _wait_healthy(self, port: int, url: str) -> None:
        spec, proc = self.spec, self.proc
        assert proc is not None
        deadline = time.monotonic() + spec.startup_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RunFailed(
                    f"{spec.name} exited with status {proc.returncode} at start-up; "
                    f"see {self.log_path}"
                )
            if _answers(port, spec.health_path, spec.health_statuses):
                return
            time.sleep(HEALTH_POLL_S)
        raise RunFailed(
            f"{spec.name} did not answer GET {url}{spec.health_path} within "
            f"{spec.startup_timeout_s:g} s; see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL after 5 s); drop its data.

        It returns once no process of the group is left running, not when the leader exits: what
        the server spawned gets the same signal but may still be exiting after the leader has been
        reaped (seen under load), and callers rely on the whole group being gone (port, data
        directory, tests that look for leftovers). Waits are bounded: a process that even SIGKILL
        does not end within the grace period (stuck in the kernel) is left behind.
        """
        if self.proc is not None:
            stop_process_group(self.proc)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None


def stop_process_group(leader: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group ``leader`` leads, SIGKILL it after ``grace_s``; return once no
    process of the group is left running (see :meth:`LaunchedServer.stop`)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(leader.pid, sig)
            # A stopped process (SIGSTOP, a wedged server) keeps SIGTERM pending until it runs.
            os.killpg(leader.pid, signal.SIGCONT)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_s
        while (running := _group_running(leader)) and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)
        if not running:
            break
    leader.poll()


def _group_running(leader: subprocess.Popen[bytes]) -> bool:
    """Whether a process of ``leader``'s group (its pid is the group's id) has yet to exit.

    The leader is our child, so it is reaped here. A zombie has exited, but ``killpg(pgid, 0)``
    still finds it; the server's orphaned children are reaped by init, which may do it late (or
    never, when the harness is a container's PID 1), so the group is then looked up in /proc.
    """
    leader.poll()
    try:
        os.killpg(leader.pid, 0)
    except ProcessLookupError:
        return False
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"{entry.path}/stat", "rb") as stat_file:
                    stat = stat_file.read()
            except OSError:
                continue
            # After "pid (comm) ": state, ppid, pgrp, ... (comm may hold spaces and parentheses).
            state, _ppid, pgrp = stat[stat.rindex(b")") + 2 :].split()[:3]
            if int(pgrp) == leader.pid and state not in (b"Z", b"X"):
                return True
    return False


def _answers(port: int, path: str, statuses: frozenset[int]) -> bool:
    """Whether a GET of ``path`` on 127.0.0.1:``port`` answers with one of ``statuses``.

    http.client rather than urllib: urllib would send a loopback request through any HTTP proxy
    set in the environment.
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status in statuses
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
