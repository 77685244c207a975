"""RSS timelines of a node's prefork children, sampled from outside the task.

The node's supervisor (``memharness worker``) serves a Unix socket in its private directory. A
task says ``begin PID`` when its measured part starts; the supervisor then reads the child's
``/proc/PID/statm`` every interval (one ``pread`` on a descriptor kept open) until the task says
``end``, and answers with the samples as JSON. Sampling costs the child nothing but the two
messages: the reads happen in the supervisor, on another process's time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

SOCKET_ENV = "MEMHARNESS_SAMPLER_SOCKET"
MAX_SAMPLES = 20_000
"""A task longer than this many intervals keeps every other sample (the timeline is a view)."""


class _Recording:
    """One child's samples since its task's ``begin``, read through a ``measure.ProcessProbe``."""

    def __init__(self, probe: Any) -> None:
        self.probe = probe
        self.started = time.monotonic()
        self.samples: list[tuple[float, int]] = []

    def sample(self, now: float) -> None:
        rss = self.probe.rss()
        if not rss:
            return
        self.samples.append((round(now - self.started, 4), rss))
        if len(self.samples) > MAX_SAMPLES:
            self.samples = self.samples[::2]

    def close(self) -> None:
        self.probe.close()


class ChildSampler:
    """The supervisor's side: a socket server and a sampling thread (daemon threads)."""

    def __init__(self, path: Path, interval_s: float) -> None:
        # Imported here, in the supervisor: the task side of this module runs in the measured
        # child, which must not load the harness's measuring code.
        from memharness_s3.execution.local.measure import ProcessProbe

        self._probe = ProcessProbe
        self.path, self.interval_s = path, interval_s
        self._lock = threading.Lock()
        self._recordings: dict[int, _Recording] = {}
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        os.chmod(path, 0o600)
        self._server.listen(64)

    def start(self) -> None:
        threading.Thread(target=self._accept, name="sampler-accept", daemon=True).start()
        threading.Thread(target=self._sample, name="sampler", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        pid: int | None = None
        with connection, connection.makefile("rwb") as stream:
            for line in stream:
                verb, _, argument = line.decode().strip().partition(" ")
                if verb == "begin" and argument.isdigit():
                    pid = int(argument)
                    with self._lock:
                        self._recordings[pid] = _Recording(self._probe(pid))
                    stream.write(b"ok\n")
                elif verb == "end" and pid is not None:
                    with self._lock:
                        recording = self._recordings.pop(pid, None)
                    samples = recording.samples if recording else []
                    if recording:
                        recording.close()
                    stream.write(json.dumps(samples).encode() + b"\n")
                stream.flush()
        if pid is not None:
            with self._lock:
                left = self._recordings.pop(pid, None)
            if left:
                left.close()

    def _sample(self) -> None:
        while True:
            now = time.monotonic()
            with self._lock:
                for recording in self._recordings.values():
                    recording.sample(now)
            time.sleep(self.interval_s)


class SamplerClient:
    """The task's side: ``begin()`` before the measured part, ``end()`` after it."""

    def __init__(self) -> None:
        self._stream: Any = None
        self._connection: socket.socket | None = None

    def begin(self) -> None:
        path = os.environ.get(SOCKET_ENV)
        if not path:
            return
        try:
            self._connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._connection.connect(path)
            self._stream = self._connection.makefile("rwb")
            self._stream.write(f"begin {os.getpid()}\n".encode())
            self._stream.flush()
            self._stream.readline()
        except OSError:
            self._close()

    def end(self) -> list[tuple[float, int]]:
        if self._stream is None:
            return []
        try:
            self._stream.write(b"end\n")
            self._stream.flush()
            return [(float(t), int(rss)) for t, rss in json.loads(self._stream.readline())]
        except (OSError, ValueError):
            return []
        finally:
            self._close()

    def _close(self) -> None:
        for closable in (self._stream, self._connection):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()
        self._stream = self._connection = None
