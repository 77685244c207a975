"""Launched backends: real s3rver and moto processes, a fake MinIO, and the shared launcher.

The servers are found as this process's children (psutil), so the tests check what really runs:
its command line, its process group, what it listens on, and that it is gone after the block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest
from boto3.s3.transfer import TransferConfig

from memharness_s3.errors import RunFailed, UsageError
from memharness_s3.s3.backends import BACKENDS, Backend, open_backend
from memharness_s3.s3.backends import minio as minio_backend
from memharness_s3.s3.backends import s3rver as s3rver_backend
from memharness_s3.s3.backends.launcher import STOP_GRACE_S, LaunchedServer, ServerSpec
from memharness_s3.s3.backends.moto_server import MotoServer
from memharness_s3.s3.objects import make_client

MiB = 2**20
MINIO_MISSING = (
    "minio backend: no `minio` binary on PATH; install MinIO or use "
    "--backend endpoint --endpoint-url URL"
)

FAKE_MINIO = """\
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

args = sys.argv[1:]
host, port = args[args.index("--address") + 1].rsplit(":", 1)
with open(os.environ["FAKE_MINIO_RECORD"], "w") as record:
    json.dump({"argv": args, "user": os.environ.get("MINIO_ROOT_USER"),
               "data_dir_mode": os.stat(args[1]).st_mode & 0o777}, record)


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/minio/health/live" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer((host, int(port)), Health).serve_forever()
"""

STUBBORN_SERVER = """\
import signal, subprocess, sys
from http.server import HTTPServer, SimpleHTTPRequestHandler

if sys.argv[2] == "ignore-term":  # noted in the file argv[3] names, then ignored
    signal.signal(signal.SIGTERM, lambda *_: open(sys.argv[3], "a").write("SIGTERM\\n"))
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
HTTPServer(("127.0.0.1", int(sys.argv[1])), SimpleHTTPRequestHandler).serve_forever()
"""


class Spawned:
    """This process's children that the test started (not a session's moto server)."""

    def __init__(self) -> None:
        self.earlier = {proc.pid for proc in psutil.Process().children()}

    def __call__(self) -> list[psutil.Process]:
        return [proc for proc in psutil.Process().children() if proc.pid not in self.earlier]

    def servers(self) -> tuple[psutil.Process, psutil.Process]:
        """The launched S3 server and the moto server beside it for Textract."""
        children = self()
        moto = [proc for proc in children if "moto.server" in proc.cmdline()]
        others = [proc for proc in children if proc not in moto]
        assert len(moto) == 1 and len(others) == 1, [proc.cmdline() for proc in children]
        return others[0], moto[0]


@pytest.fixture()
def spawned() -> Spawned:
    return Spawned()


def _assert_isolated(proc: psutil.Process) -> None:
    """Its own process group, and listening on loopback only."""
    assert os.getpgid(proc.pid) == proc.pid
    listening = [c.laddr.ip for c in proc.net_connections("inet") if c.status == "LISTEN"]
    assert listening
    assert set(listening) == {"127.0.0.1"}


def _assert_gone(*procs: psutil.Process) -> None:
    """Each process has exited (a zombie left to init to reap counts as exited)."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc


@pytest.mark.integration
def test_s3rver_serves_multipart_metadata_ranges_and_copies(
    spawned: Spawned, tmp_path: Path
) -> None:
    payload = os.urandom(12 * MiB + 12345)
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    metadata = {"sha256": "not-checked-here", "pages": "24"}
    multipart = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)

    with open_backend("s3rver", None, None, tmp_path) as backend:
        server, moto = spawned.servers()
        argv = server.cmdline()
        data_dir = Path(argv[argv.index("-d") + 1])
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        _assert_isolated(server)
        assert backend.worker_env == {
            "AWS_ACCESS_KEY_ID": "S3RVER",
            "AWS_SECRET_ACCESS_KEY": "S3RVER",
        }

        s3 = make_client(backend)
        s3.create_bucket(Bucket="backend-tests")
        s3.upload_file(
            str(source),
            "backend-tests",
            "big.pdf",
            ExtraArgs={"Metadata": metadata},
            Config=multipart,
        )
        head = s3.head_object(Bucket="backend-tests", Key="big.pdf")
        assert head["ContentLength"] == len(payload)
        assert head["Metadata"] == metadata

        ranged = s3.get_object(Bucket="backend-tests", Key="big.pdf", Range="bytes=7340000-7340099")
        assert ranged["Body"].read() == payload[7340000:7340100]
        assert ranged["ContentRange"] == f"bytes 7340000-7340099/{len(payload)}"

        s3.copy_object(
            CopySource={"Bucket": "backend-tests", "Key": "big.pdf"},
            Bucket="backend-tests",
            Key="copy.pdf",
            MetadataDirective="COPY",
        )
        copied = s3.head_object(Bucket="backend-tests", Key="copy.pdf")
        assert copied["Metadata"] == metadata
        assert s3.get_object(Bucket="backend-tests", Key="copy.pdf")["Body"].read() == payload

        assert any(data_dir.rglob("*"))

    _assert_gone(server, moto)
    assert not data_dir.exists()
    assert (tmp_path / "s3rver-server.log").exists()


@pytest.mark.integration
def test_s3rver_backend_has_its_own_textract(spawned: Spawned, tmp_path: Path) -> None:
    with open_backend("s3rver", None, "eu-west-1", tmp_path) as backend:
        server, moto = spawned.servers()
        _assert_isolated(moto)
        textract_url = backend.service_endpoints["textract"]
        assert textract_url != backend.endpoint_url
        textract = boto3.client(
            "textract",
            endpoint_url=textract_url,
            region_name=backend.region,
            aws_access_key_id=backend.worker_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=backend.worker_env["AWS_SECRET_ACCESS_KEY"],
        )
        job = textract.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": "anything", "Name": "doc.pdf"}}
        )
        result = textract.get_document_text_detection(JobId=job["JobId"])
        assert result["JobStatus"] in ("IN_PROGRESS", "SUCCEEDED")

    _assert_gone(server, moto)


@pytest.mark.integration
def test_moto_backend_serves_textract_itself(spawned: Spawned, tmp_path: Path) -> None:
    with open_backend("moto", None, None, tmp_path) as backend:
        assert backend.service_endpoints == {}
        assert backend.worker_env == MotoServer.CREDENTIALS
        (server,) = spawned()
        _assert_isolated(server)
    _assert_gone(server)


def test_minio_without_binary_fails_in_one_line(
    spawned: Spawned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RunFailed) as failure, open_backend("minio", None, None, tmp_path):
        pytest.fail("no minio should have started")
    assert str(failure.value) == MINIO_MISSING
    assert spawned() == []


@pytest.mark.integration
def test_minio_runs_through_the_shared_launcher(
    spawned: Spawned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "minio"
    fake.write_text(f"#!{sys.executable}\n{FAKE_MINIO}")
    fake.chmod(0o755)
    record = tmp_path / "fake-minio.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MINIO_RECORD", str(record))

    started: list[psutil.Process] = []
    try:
        with open_backend("minio", None, None, tmp_path) as backend:
            server, moto = spawned.servers()
            started += [server, moto]
            _assert_isolated(server)
            seen = json.loads(record.read_text())
            address = seen["argv"][seen["argv"].index("--address") + 1]
            assert backend.endpoint_url == f"http://{address}"
            assert backend.worker_env == minio_backend.CREDENTIALS
            assert "textract" in backend.service_endpoints
            assert seen["user"] == minio_backend.CREDENTIALS["AWS_ACCESS_KEY_ID"]
            assert seen["data_dir_mode"] == 0o700
            data_dir = Path(seen["argv"][1])
            assert seen["argv"][0] == "server"
            console = seen["argv"][seen["argv"].index("--console-address") + 1]
            assert console.startswith("127.0.0.1:")
        _assert_gone(server, moto)
        assert not data_dir.exists()
    finally:
        for proc in started:
            if proc.is_running():
                proc.kill()


def _spec(argv: list[str], needs_data_dir: bool = False, timeout_s: float = 30.0) -> ServerSpec:
    """A spec running ``argv`` with ``{port}`` and ``{data_dir}`` filled in."""

    def build(port: int, data_dir: Path | None) -> list[str]:
        return [arg.format(port=port, data_dir=data_dir) for arg in argv]

    return ServerSpec(
        name="test server",
        argv=build,
        credentials={},
        health_path="/",
        needs_data_dir=needs_data_dir,
        startup_timeout_s=timeout_s,
    )


def test_server_exiting_at_startup_names_its_log(spawned: Spawned, tmp_path: Path) -> None:
    log = tmp_path / "doomed.log"
    spec = _spec(
        [sys.executable, "-c", "import sys; print(sys.argv[1]); sys.exit(3)", "{data_dir}"],
        needs_data_dir=True,
    )
    server = LaunchedServer(spec, log)
    with pytest.raises(RunFailed) as failure, server:
        pytest.fail("the server should not have come up")
    assert str(failure.value) == f"test server exited with status 3 at start-up; see {log}"
    data_dir = Path(log.read_text().strip())
    assert data_dir.name.startswith("memharness-test-server-")
    assert not data_dir.exists()
    assert spawned() == []


def test_server_that_never_answers_is_stopped(tmp_path: Path) -> None:
    spec = _spec([sys.executable, "-c", "import time; time.sleep(300)"], timeout_s=0.5)
    server = LaunchedServer(spec, tmp_path / "silent.log")
    with (
        pytest.raises(
            RunFailed, match=r"did not answer GET http://127\.0\.0\.1:\d+/ within 0\.5 s"
        ),
        server,
    ):
        pytest.fail("the server should not have answered")
    assert server.proc is not None and server.proc.returncode is not None


@pytest.fixture()
def stubborn_script(tmp_path: Path) -> Path:
    """A server that starts a child (so it leads a group of two) and may ignore SIGTERM."""
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_SERVER)
    return script


def test_keyboard_interrupt_stops_the_whole_process_group(
    spawned: Spawned, tmp_path: Path, stubborn_script: Path
) -> None:
    spec = _spec([sys.executable, str(stubborn_script), "{port}", "polite"], needs_data_dir=True)
    server = LaunchedServer(spec, tmp_path / "polite.log")
    with pytest.raises(KeyboardInterrupt), server:
        (leader,) = spawned()
        group = [leader, *leader.children()]
        assert len(group) == 2
        data_dir = server.data_dir
        assert data_dir is not None and data_dir.is_dir()
        raise KeyboardInterrupt
    _assert_gone(*group)
    assert data_dir is not None and not data_dir.exists()


def test_sigterm_ignored_means_sigkill_after_grace(
    spawned: Spawned, tmp_path: Path, stubborn_script: Path
) -> None:
    noted = tmp_path / "signals"
    argv = [sys.executable, str(stubborn_script), "{port}", "ignore-term", str(noted)]
    server = LaunchedServer(_spec(argv), tmp_path / "stubborn.log")
    with server:
        (leader,) = spawned()
        group = [leader, *leader.children()]
        started = time.monotonic()
    # SIGTERM first (the server noted and survived it), SIGKILL only after the grace period: a
    # lower bound, which a loaded machine can only make longer.
    assert noted.read_text() == "SIGTERM\n"
    assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started >= STOP_GRACE_S
    _assert_gone(*group)


def test_s3rver_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "my-s3rver"
    explicit.write_text("#!/bin/sh\n")
    monkeypatch.setenv("MEMHARNESS_S3RVER", str(explicit))
    with pytest.raises(RunFailed, match=r"MEMHARNESS_S3RVER=.* is not an executable"):
        s3rver_backend.find_executable()
    explicit.chmod(0o755)
    assert s3rver_backend.find_executable() == explicit

    monkeypatch.delenv("MEMHARNESS_S3RVER")
    on_path = tmp_path / "bin" / "s3rver"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert s3rver_backend.find_executable() == on_path

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("MEMHARNESS_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "node" / "node_modules" / ".bin" / "s3rver"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    assert s3rver_backend.find_executable() == cached


def _fake_npm(bin_dir: Path, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text(f"#!/bin/sh\nPATH=/usr/bin:/bin\n{body}\n")
    npm.chmod(0o755)


def test_s3rver_is_installed_with_npm_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    command = f"npm install --prefix {cache}/node --no-audit --no-fund s3rver@3.7.1"
    monkeypatch.delenv("MEMHARNESS_S3RVER", raising=False)
    monkeypatch.setenv("MEMHARNESS_CACHE", str(cache))
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(bin_dir))

    with pytest.raises(RunFailed) as missing:
        s3rver_backend.find_executable()
    assert "no npm on PATH" in str(missing.value) and f"`{command}`" in str(missing.value)

    _fake_npm(bin_dir, 'echo "npm error code E404" >&2; echo "npm error 404 Not Found" >&2; exit 1')
    with pytest.raises(RunFailed) as failed:
        s3rver_backend.find_executable()
    assert "(exit status 1: npm error 404 Not Found)" in str(failed.value)
    assert f"`{command}`" in str(failed.value) and "\n" not in str(failed.value)

    _fake_npm(
        bin_dir,
        f'[ "$*" = "{command[4:]}" ] || exit 9\n'
        'mkdir -p "$3/node_modules/.bin" && touch "$3/node_modules/.bin/s3rver"',
    )
    capsys.readouterr()
    assert s3rver_backend.find_executable() == cache / "node" / "node_modules" / ".bin" / "s3rver"
    assert (
        capsys.readouterr().err
        == f"memharness: installing s3rver 3.7.1 with npm into {cache}/node\n"
    )


def test_endpoint_backend_takes_a_textract_endpoint(tmp_path: Path) -> None:
    assert BACKENDS == ("moto", "s3rver", "minio", "endpoint")
    url, textract = "http://127.0.0.1:9000", "http://127.0.0.1:9001"
    with open_backend("endpoint", url, "us-west-2", tmp_path, textract) as backend:
        assert backend == Backend("endpoint", url, "us-west-2", {}, {"textract": textract})
    with open_backend("endpoint", url, None, tmp_path) as backend:
        assert backend.service_endpoints == {}
    with (
        pytest.raises(UsageError, match="Textract endpoint URL"),
        open_backend("endpoint", url, None, tmp_path, "ftp://x"),
    ):
        pass
    with (
        pytest.raises(UsageError, match="unknown backend 'nope'"),
        open_backend("nope", None, None, tmp_path),
    ):
        pass
