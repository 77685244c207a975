"""Whether the backend still answers, watched from the harness's own process (never a worker).

A probe is a HEAD of the bucket over ``http.client`` with a short timeout: any HTTP answer (a
403 or 404 included) means the server is serving requests; no answer within
:data:`HEALTH_TIMEOUT_S` means it is not. A TCP connect alone proves nothing: a wedged server's
kernel keeps accepting connections into its listening socket's backlog. A launched server whose
process has exited, or an endpoint that refuses connections, is down.

:class:`BackendGuard` probes before each run, and its :class:`Watch` (a thread of the parent)
probes every :data:`PROBE_INTERVAL_S` while a run's workers run; a launched server that misses
probes while it keeps working (CPU time, I/O) is busy, not wedged. A run that ends ``error`` or
``timeout`` while, or after, the backend failed a probe was broken by the backend, not by its
strategy: its lines are labelled ``infra`` (error_type ``BackendUnresponsive``, or
``BackendDown`` when the process is gone), a server the harness launched is restarted on the same
port (objects prepared again where it kept them in memory) and the run is re-run once. An
endpoint the harness did not launch is not restarted: the run stops with one line. A run that
fails while the backend answers is its strategy's failure, as always.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import SplitResult, quote, urlsplit

from memharness_s3.errors import RunFailed
from memharness_s3.model.records import INFRA, RunResult
from memharness_s3.s3.backends import Backend

HEALTH_TIMEOUT_S = 5.0
"""How long a HEAD of the bucket may take before the backend counts as not answering. A HEAD has
no body: a healthy server on loopback answers in milliseconds, and well under a second while it
streams GB-scale objects to several workers on a loaded 2-core machine. Five seconds is far
above that and far below botocore's 60 s read timeout, which is what a wedged server otherwise
costs every request of every worker (times its retries)."""
PROBE_INTERVAL_S = 2.0
"""How often the watch probes while a run's workers run: one idle HEAD every 2 s is nothing to
the server, and an outage is noticed within about ``2 + 2 x HEALTH_TIMEOUT_S`` seconds."""
PROBES_TO_FAIL = 2
"""Unanswered probes in a row before the backend counts as unresponsive: one late answer on a
loaded machine is not an outage (a refused connection or an exited server counts at once)."""
RERUNS = 1
"""How many times a run the backend broke is run again."""
UNRESPONSIVE, DOWN = "BackendUnresponsive", "BackendDown"
BROKEN_STATUSES = ("error", "timeout")
"""What an outage makes of a run: a worker's request fails or never ends. An ``oom`` is the
worker's own memory, whatever the backend did."""


@dataclass(frozen=True)
class Problem:
    """Why the backend failed a probe."""

    kind: str
    """``BackendUnresponsive`` or ``BackendDown``: the ``error_type`` of the runs it broke."""
    detail: str


def probe(backend: Backend, bucket: str, timeout_s: float = HEALTH_TIMEOUT_S) -> Problem | None:
    """One HEAD of ``bucket`` on ``backend``; None when it answered."""
    server = backend.launched
    if server is not None and (status := server.exit_status()) is not None:
        return Problem(DOWN, f"{server.spec.name} exited with status {status}")
    url = backend.endpoint_url or f"https://s3.{backend.region}.amazonaws.com"
    parts = urlsplit(url)
    https = parts.scheme == "https"
    connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    where = f"{backend.name} at {backend.display_url}"
    path = f"{parts.path.rstrip('/')}/{quote(bucket)}"
    target = path
    # http.client, not boto3: no retries, no credentials needed (any answer will do). An
    # endpoint is reached through the proxy the environment names, as the workers' botocore
    # reaches it; a launched server on loopback never is.
    proxy = _proxy(url) if server is None else None
    if proxy is None:
        connection = connection_class(parts.hostname or "", parts.port, timeout=timeout_s)
    else:
        connection = connection_class(proxy.hostname or "", proxy.port, timeout=timeout_s)
        if https:
            connection.set_tunnel(parts.hostname or "", parts.port)
        else:
            target = f"{parts.scheme}://{parts.netloc}{path}"
    try:
        connection.request("HEAD", target)
        connection.getresponse().read()
    except ConnectionRefusedError:
        return Problem(DOWN, f"{where} refuses connections")
    except TimeoutError:
        return Problem(UNRESPONSIVE, f"{where} did not answer HEAD {path} within {timeout_s:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return Problem(UNRESPONSIVE, f"{where} failed HEAD {path}: {exc or type(exc).__name__}")
    finally:
        connection.close()
    return None


def _proxy(url: str) -> SplitResult | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``...) names for ``url``, if any."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


class Watch:
    """Probes the backend from a thread of the parent while a run's workers run.

    ``failed`` is set (and ``problem`` says why) once the backend has missed
    :data:`PROBES_TO_FAIL` probes in a row or is down; the watch then stops probing.
    """

    def __init__(self, check: Callable[[], Problem | None], interval_s: float) -> None:
        self.problem: Problem | None = None
        self.failed = threading.Event()
        self._check = check
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="backend-health", daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        misses = 0
        while not self._stop.wait(self._interval_s):
            problem = self._check()
            misses = misses + 1 if problem is not None else 0
            if problem is not None and (misses >= PROBES_TO_FAIL or problem.kind == DOWN):
                self.problem = problem
                self.failed.set()
                return


class BackendGuard:
    """Checks the backend before each run and watches it during one; labels the runs it broke
    and restarts a server the harness launched."""

    def __init__(
        self,
        backend: Backend,
        bucket: str,
        restore_objects: Callable[[], None],
        say: Callable[[str], None],
        timeout_s: float = HEALTH_TIMEOUT_S,
        interval_s: float = PROBE_INTERVAL_S,
    ) -> None:
        """``restore_objects`` prepares the run's objects again after a restart of a server that
        kept them in memory (moto); ``say`` reports what the guard did."""
        self.backend = backend
        self.bucket = bucket
        self.restore_objects = restore_objects
        self.say = say
        self.timeout_s = timeout_s
        self.interval_s = interval_s

    def check(self) -> Problem | None:
        """None when the backend answers; a probe that got no answer is tried once more."""
        prober = self.prober()
        problem = prober()
        if problem is None or problem.kind == DOWN:
            return problem
        return prober()

    def watch(self) -> Watch:
        """A watch for the time a run's workers run (``with guard.watch() as watch:``)."""
        return Watch(self.prober(), self.interval_s)

    def prober(self) -> Callable[[], Problem | None]:
        """Probes of the backend, in a sequence that tells busy from wedged.

        A launched server that missed a probe but did work since the previous one (CPU time,
        bytes read or written) is busy, not wedged: s3rver finishing four 2 GB multipart uploads
        on a loaded 2-core machine let HEADs wait over 5 s twice in a row while it worked. A
        wedged server (stopped, or idle in epoll with its backlog full) does nothing. An endpoint
        the harness did not launch cannot be looked into: its probes' answers alone decide.
        """
        server = self.backend.launched
        last = [server.work_done() if server is not None else None]

        def one() -> Problem | None:
            problem = probe(self.backend, self.bucket, self.timeout_s)
            work = server.work_done() if server is not None else None
            busy = work is not None and last[0] is not None and work > last[0]
            last[0] = work
            if problem is not None and problem.kind == UNRESPONSIVE and busy:
                return None
            return problem

        return one

    def before_run(self) -> None:
        """Recover the backend if it does not answer now: between runs, nothing is broken yet."""
        problem = self.check()
        if problem is not None:
            self.recover(problem)

    def outage(self, statuses: Sequence[str], watch: Watch) -> Problem | None:
        """The outage that broke a run whose lines ended ``statuses``: None when no line ended
        error or timeout (or was killed for the outage), or the backend answered throughout the
        run and answers now (the failure is the strategy's own)."""
        if not any(status in (*BROKEN_STATUSES, INFRA) for status in statuses):
            return None
        return watch.problem or self.check()

    def label(self, results: list[RunResult], watch: Watch, attempt: int) -> Problem | None:
        """Replace every line of a run the backend broke with a copy labelled ``infra`` that says
        what happens next; return the outage (None: the run stands as it ended)."""
        problem = self.outage([r.status for r in results], watch)
        if problem is None:
            return None
        if self.backend.launched is None:
            then = "not re-run: the harness did not launch this endpoint, so the run stops"
        elif attempt < RERUNS:
            then = "re-run"
        else:
            then = f"not re-run again (already run {attempt + 1} times)"
        for index, result in enumerate(results):
            said = f": {result.error}" if result.error else ""
            # A worker the harness stopped for the outage already says so.
            ended = result.error if result.status == INFRA else f"it ended {result.status}{said}"
            results[index] = dataclasses.replace(
                result,
                status=INFRA,
                error=f"{problem.detail}; {ended}; {then}",
                error_type=problem.kind,
            )
        lines = f"{len(results)} line{'s' if len(results) > 1 else ''}"
        self.say(f"backend: {problem.detail}; the run's {lines} labelled {INFRA}, {then}")
        return problem

    def recover(self, problem: Problem) -> None:
        """Restart a launched server (and restore objects it lost); RunFailed for an endpoint the
        harness did not launch, or a server that does not come back."""
        server = self.backend.launched
        if server is None:
            raise RunFailed(
                f"backend {problem.detail}; the harness did not launch it, so it is not "
                "restarted: stopping (every result so far is kept)"
            )
        self.say(f"backend: {problem.detail}; restarting {server.spec.name} on the same port")
        server.restart()
        if not server.keeps_objects:
            self.say(f"backend: {server.spec.name} lost its objects (in memory); preparing again")
            self.restore_objects()
        still = self.check()
        if still is not None:
            raise RunFailed(f"backend restarted, but {still.detail}")
