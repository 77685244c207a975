"""Put the fault proxy in front of S3 for one run of a case, and take it away afterwards.

The runner enters ``inject(...)`` around a group of workers: it starts the proxy (a launched
server like the backends, so it is loopback-only, in its own process group and dies with the
harness) and yields the URL the workers use as their S3 endpoint. For ``backend-kill`` the
backend that gets killed cannot be the run's own (moto would lose every object, and the cases
after this one would have nothing to fetch), so a throwaway server of the same kind is launched,
the run's objects are copied into it, the proxy forwards to it, and a watcher thread kills its
process group the moment the proxy reports (through a trip file) that the share of the body went
through.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from memharness_s3.errors import UsageError
from memharness_s3.model.records import ObjectRef
from memharness_s3.s3.backends import LAUNCHED, Backend
from memharness_s3.s3.backends.launcher import LaunchedServer, ServerSpec
from memharness_s3.s3.faults.proxy import HEALTH_PATH
from memharness_s3.s3.faults.spec import NO_FAULT, Fault, Kind
from memharness_s3.s3.objects import ensure_bucket, make_client, s3_errors

TRIP_POLL_S = 0.01


@dataclass
class FaultRoute:
    """Where the workers' S3 calls go while the fault is on."""

    s3_endpoint_url: str

    def injections(self) -> int | None:
        """How many times the proxy injected its fault so far (None if it does not answer)."""
        parts = urlsplit(self.s3_endpoint_url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            connection.request("GET", HEALTH_PATH)
            return int(json.loads(connection.getresponse().read())["injected"])
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            return None
        finally:
            connection.close()


def check_fault_backend(fault: Fault, backend_name: str, endpoint_url: str | None) -> None:
    """Refuse, in one line, a fault the proxy cannot put in front of this backend.

    Launched backends (every name but ``endpoint``) serve plain HTTP on loopback; ``endpoint``
    must be an http:// URL (the proxy does not speak TLS) and cannot be killed by the harness.
    """
    if backend_name != "endpoint":
        return
    if fault.kind is Kind.BACKEND_KILL:
        raise UsageError(
            f"fault {fault.text!r} kills the backend server, so it needs one the harness "
            f"launches ({', '.join(LAUNCHED)}), not --backend {backend_name}"
        )
    if endpoint_url is None or urlsplit(endpoint_url).scheme != "http":
        raise UsageError(
            f"fault {fault.text!r} needs a plain http:// --endpoint-url for its proxy to forward to"
        )


@contextlib.contextmanager
def inject(
    fault: Fault, backend: Backend, objects: Sequence[ObjectRef], log_prefix: Path
) -> Iterator[FaultRoute]:
    """Run the proxy (and for backend-kill the throwaway backend) for the block.

    Their logs are ``<log_prefix>-proxy.log`` and ``<log_prefix>-backend.log``.
    """
    check_fault_backend(fault, backend.name, backend.endpoint_url)
    assert backend.endpoint_url is not None
    with contextlib.ExitStack() as stack:
        upstream, trip_file = backend.endpoint_url, None
        if fault.kind is Kind.BACKEND_KILL:
            server = LaunchedServer(
                LAUNCHED[backend.name](), log_prefix.with_name(f"{log_prefix.name}-backend.log")
            )
            upstream = stack.enter_context(server)
            throwaway = Backend(backend.name, upstream, backend.region, server.spec.credentials)
            _copy_objects(backend, throwaway, objects)
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="memharness-")))
            trip_file = scratch / "tripped"
            stack.enter_context(_kill_on_trip(server, trip_file))
        proxy_log = log_prefix.with_name(f"{log_prefix.name}-proxy.log")
        yield FaultRoute(stack.enter_context(launch_proxy(upstream, fault, proxy_log, trip_file)))


def launch_proxy(
    upstream: str, fault: Fault | None, log_path: Path, trip_file: Path | None = None
) -> LaunchedServer:
    """The proxy as a launched server: ``with launch_proxy(...) as url:`` runs it for a block."""

    def argv(port: int, data_dir: Path | None) -> list[str]:
        extra = ["--trip-file", str(trip_file)] if trip_file is not None else []
        return [
            sys.executable,
            "-m",
            "memharness_s3.s3.faults.proxy",
            *("--port", str(port)),
            *("--upstream", upstream),
            *("--fault", fault.text if fault else NO_FAULT),
            *extra,
        ]

    spec = ServerSpec(name="fault proxy", argv=argv, credentials={}, health_path=HEALTH_PATH)
    return LaunchedServer(spec, log_path)


def _copy_objects(source: Backend, target: Backend, objects: Sequence[ObjectRef]) -> None:
    """Copy the run's objects, metadata included, through a temp file (bounded memory)."""
    src, dst = make_client(source), make_client(target)
    for bucket in sorted({obj.bucket for obj in objects}):
        ensure_bucket(dst, target, bucket, create=True)
    with tempfile.TemporaryDirectory(prefix="memharness-copy-") as folder:
        path = os.path.join(folder, "object")
        for obj in {(o.bucket, o.key): o for o in objects}.values():
            with s3_errors(source, f"copying s3://{obj.bucket}/{obj.key} for backend-kill"):
                metadata = src.head_object(Bucket=obj.bucket, Key=obj.key).get("Metadata", {})
                src.download_file(obj.bucket, obj.key, path)
                dst.upload_file(path, obj.bucket, obj.key, ExtraArgs={"Metadata": metadata})


@contextlib.contextmanager
def _kill_on_trip(server: LaunchedServer, trip_file: Path) -> Iterator[None]:
    """A thread that SIGKILLs ``server``'s process group once ``trip_file`` appears."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(TRIP_POLL_S):
            if trip_file.exists() and server.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                return

    thread = threading.Thread(target=watch, name="backend-kill", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
