"""RSS timelines of a node's prefork children and the node's own memory, sampled from outside.

The node's supervisor (``memharness worker``) serves a Unix socket in its private directory. A
task says ``begin PID RUN_ID`` when its measured part starts; the supervisor then reads the
child's ``/proc/PID/statm`` every interval (one ``pread`` on a descriptor kept open) until the
task says ``end``, and answers with the samples as JSON. Sampling costs the child nothing but the
two messages: the reads happen in the supervisor, on another process's time. A child whose
connection closes before ``end`` died in its task (the kernel closes a killed process's socket
at once): its PID is kept under the task's run id, the PID of the child the kernel killed.

The supervisor also samples the whole node (Celery's main process and its children,
``node_memory``): what it charges (its cgroup, else the sum of PSS) and the sum of its RSS. The
node's main process asks, for the coordinator (``control``): ``mark`` starts a run (the answer is
the idle floor), ``peak`` ends it (the peaks since ``mark`` and the children lost in tasks),
``children`` lists the node's children (to see a restarted pool's new ones).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memharness_s3.execution.procfs import current_rss

if TYPE_CHECKING:
    from memharness_s3.execution.caps import CgroupFlavour
    from memharness_s3.execution.node_memory import NodeMeter

SOCKET_ENV = "MEMHARNESS_SAMPLER_SOCKET"
NODE_VERBS = ("mark", "peak", "children")
NODE_SLOW_EVERY_TICKS = 10
"""The node's processes are listed again, and without a cgroup its charged figure (a sum of PSS)
read, every this many ticks."""
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
        from memharness_s3.execution.node_memory import NodeMeter, child_pids

        self._probe = ProcessProbe
        self._meter_class, self._children_of = NodeMeter, child_pids
        self.path, self.interval_s = path, interval_s
        self._lock = threading.Lock()
        self._recordings: dict[int, _Recording] = {}
        self._lost: dict[str, int] = {}
        """Run id -> PID of each child that died before its task's ``end``."""
        self._node_pid: int | None = None
        self._meter: NodeMeter | None = None
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        os.chmod(path, 0o600)
        self._server.listen(64)

    def watch_node(self, pid: int, cgroup: Path | None, flavour: CgroupFlavour | None) -> None:
        """Sample the node whose main process is ``pid`` (in ``cgroup`` when it has one)."""
        cgroups = [(cgroup, flavour)] if cgroup is not None and flavour is not None else []
        with self._lock:
            self._meter = self._meter_class(cgroups, follow_peaks=True)
            self._node_pid = pid

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
        run_id = ""
        with connection, connection.makefile("rwb") as stream:
            for line in stream:
                verb, *arguments = line.decode().split()
                if verb == "begin" and arguments and arguments[0].isdigit():
                    pid, run_id = int(arguments[0]), "".join(arguments[1:2])
                    with self._lock:
                        self._recordings[pid] = _Recording(self._probe(pid))
                    stream.write(b"ok\n")
                elif verb == "end" and pid is not None:
                    with self._lock:
                        recording = self._recordings.pop(pid, None)
                    pid = None
                    samples = recording.samples if recording else []
                    if recording:
                        recording.close()
                    stream.write(json.dumps(samples).encode() + b"\n")
                elif verb in NODE_VERBS:
                    stream.write(json.dumps(self._node_answer(verb)).encode() + b"\n")
                stream.flush()
        if pid is not None:  # gone before its task's end: the child died
            with self._lock:
                left = self._recordings.pop(pid, None)
                if run_id:
                    self._lost[run_id] = pid
            if left:
                left.close()

    def _node_pids(self) -> list[int]:
        if self._node_pid is None:
            return []
        return [self._node_pid, *self._children_of(self._node_pid)]

    def _node_answer(self, verb: str) -> dict[str, Any]:
        """What ``mark``, ``peak`` and ``children`` answer (``{}`` before the node runs)."""
        pids = self._node_pids()
        with self._lock:
            meter = self._meter
            if meter is None:
                return {}
            if verb == "mark":
                meter.start(pids)
                self._lost.clear()
                return {"idle_bytes": meter.idle_bytes, "source": meter.source}
            if verb == "peak":
                lost, self._lost = self._lost, {}
                return {**asdict(meter.figures()), "lost": lost}
        return {"children": pids[1:], "rss_bytes": sum(_rss(pid) for pid in pids[1:])}

    def _sample(self) -> None:
        tick = 0
        pids: list[int] = []
        while True:
            now = time.monotonic()
            with self._lock:
                for recording in self._recordings.values():
                    recording.sample(now)
            slow = tick % NODE_SLOW_EVERY_TICKS == 0
            if slow:  # a child forked since is counted from the next slow tick
                pids = self._node_pids()
            with self._lock:
                meter = self._meter
                if meter is not None and pids:
                    meter.sample(sum(_rss(pid) for pid in pids), pids, slow)
            tick += 1
            time.sleep(self.interval_s)


def _rss(pid: int) -> int:
    try:
        return current_rss(pid)
    except (OSError, ValueError, IndexError):
        return 0


def ask_supervisor(verb: str) -> dict[str, Any]:
    """The node's main process asks its supervisor about the node (:data:`NODE_VERBS`)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or verb not in NODE_VERBS:
        return {}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10.0)
        connection.connect(path)
        with connection.makefile("rwb") as stream:
            stream.write(verb.encode() + b"\n")
            stream.flush()
            answer = json.loads(stream.readline())
    return answer if isinstance(answer, dict) else {}


class SamplerClient:
    """The task's side: ``begin()`` before the measured part, ``end()`` after it."""

    def __init__(self) -> None:
        self._stream: Any = None
        self._connection: socket.socket | None = None

    def begin(self, run_id: str = "") -> None:
        path = os.environ.get(SOCKET_ENV)
        if not path:
            return
        try:
            self._connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._connection.connect(path)
            self._stream = self._connection.makefile("rwb")
            self._stream.write(f"begin {os.getpid()} {run_id}\n".encode())
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
