"""The ``memharness`` command as a user runs it: exit codes, one-line errors, files written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memharness_s3.s3.backends import Backend
from memharness_s3.s3.backends.moto_server import free_port
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import make_client
from tests.support.services import BUCKET, serving

FAKE_SECRET = "memharness-FAKE-secret-0123456789abcdef"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": FAKE_SECRET}


def memharness(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memharness_s3.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    return lines[-1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--sizes=-5MB"], "malformed size '-5MB'"),
        (["run", "--sizes", "-5MB"], "expected one argument"),
        (["run", "--sizes", "1.5.0GB"], "malformed size '1.5.0GB'"),
        (["run", "--sizes", "0"], "below one byte"),
        (["run", "--sizes", "10 parsecs"], "malformed size"),
        (["run", "--strategies", "read-al"], "unknown strategy 'read-al'"),
        (["run", "--process", "ocr"], "unknown process step 'ocr'"),
        (["run", "--param", "chunked.chunksize=1MB"], "has no parameter 'chunksize'"),
        (["run", "--param", "chunked=1MB"], "expected STRATEGY.NAME=VALUE"),
        (["run", "--param", "chunked.chunk_size=big"], "malformed size 'big'"),
        (["run", "--param", "range.part_size=1MB"], "not in this run"),
        (["run", "--timeout", "0"], "--timeout must be a positive number of seconds, got '0'"),
        (["run", "--backend", "nope"], "unknown backend 'nope'"),
        (["run", "--key", "a.pdf", "--sizes", "10MB"], "cannot be combined"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    if args[:2] == ["run", "--param"] and "range" in args[2]:
        args = [*args, "--strategies", "chunked"]
    proc = memharness(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in one_line_error(proc)
    assert len(proc.stderr.strip().splitlines()) == 1


def test_strategies_lists_the_five_built_ins(tmp_path: Path) -> None:
    proc = memharness("strategies", cwd=tmp_path)
    assert proc.returncode == 0
    names = {line.split()[0] for line in proc.stdout.splitlines() if not line.startswith(" ")}
    assert {"read-all", "chunked", "range", "transfer-manager", "textract-direct"} <= names


def test_fixtures_generates_then_reuses_the_cache(tmp_path: Path) -> None:
    args = ("fixtures", "--sizes", "64KiB,100KB", "--cache-dir", str(tmp_path / "cache"))
    first = memharness(*args, cwd=tmp_path)
    second = memharness(*args, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()[1:]] == ["64KiB", "100KB"]
    assert [line.split()[3] for line in first.stdout.splitlines()[1:]] == [
        line.split()[3] for line in second.stdout.splitlines()[1:]
    ]
    assert len(list((tmp_path / "cache" / "fixtures").glob("*.pdf"))) == 2


def test_unwritable_cache_dir_is_one_line_and_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = memharness(
        "fixtures", "--sizes", "64KiB", "--cache-dir", str(blocker / "c"), cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "is not writable" in one_line_error(proc)


def test_unwritable_out_dir_is_one_line_and_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = memharness("run", "--sizes", "64KiB", "--out", str(blocker / "out"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "is not writable" in one_line_error(proc)


def test_unreachable_endpoint_is_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = memharness(
        "run",
        "--backend",
        "endpoint",
        "--endpoint-url",
        f"http://127.0.0.1:{free_port()}",
        "--sizes",
        "64KiB",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=CREDENTIALS,
    )
    assert proc.returncode == 1
    assert "cannot reach S3 endpoint" in one_line_error(proc)


@pytest.fixture()
def authenticating_moto(tmp_path: Path) -> Iterator[str]:
    """A moto server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0)."""
    port = free_port()
    with serving(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/data.json",
        tmp_path / "moto-auth.log",
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
    ):
        yield f"http://127.0.0.1:{port}"


def test_wrong_credentials_are_one_line_without_the_secret(
    authenticating_moto: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = memharness(
        "run",
        "--backend",
        "endpoint",
        "--endpoint-url",
        authenticating_moto,
        "--sizes",
        "64KiB",
        "--out",
        str(out),
        cwd=tmp_path,
        env=CREDENTIALS,
    )
    assert proc.returncode == 1
    assert "credentials were rejected" in one_line_error(proc)
    assert FAKE_SECRET not in proc.stderr + proc.stdout


def endpoint_run(
    backend: Backend, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``memharness run --backend endpoint`` against ``backend`` with fake credentials."""
    out = tmp_path / "out"
    proc = memharness(
        "run",
        "--backend",
        "endpoint",
        "--endpoint-url",
        str(backend.endpoint_url),
        "--out",
        str(out),
        *args,
        cwd=tmp_path,
        env=CREDENTIALS,
    )
    return proc, out


@pytest.mark.integration
def test_missing_bucket_is_one_line_and_exit_1(moto_backend: Backend, tmp_path: Path) -> None:
    proc, _ = endpoint_run(moto_backend, tmp_path, "--bucket", "no-such-bucket", "--key", "a.pdf")
    assert proc.returncode == 1
    assert "no-such-bucket" in one_line_error(proc) and "not found" in proc.stderr


@pytest.mark.integration
def test_bad_objects_are_recorded_as_errors_and_good_ones_still_run(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    good = uploaded(10 * 10**6)
    s3 = make_client(moto_backend)
    s3.put_object(Bucket=BUCKET, Key="notes/not-a-pdf.txt", Body=b"hello, not a PDF" * 100)
    s3.put_object(Bucket=BUCKET, Key="notes/empty.pdf", Body=b"")
    keys = ["notes/missing.pdf", "notes/not-a-pdf.txt", "notes/empty.pdf", good.object_key]
    key_args = [arg for key in keys for arg in ("--key", key)]
    proc, out = endpoint_run(
        moto_backend, tmp_path, "--bucket", BUCKET, "--strategies", "chunked", *key_args
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_key = {line["object_key"]: line for line in lines}
    assert "not found" in by_key["notes/missing.pdf"]["error"]
    assert "not a PDF" in by_key["notes/not-a-pdf.txt"]["error"]
    assert "empty" in by_key["notes/empty.pdf"]["error"]
    assert by_key[good.object_key]["status"] == "ok"
    assert by_key[good.object_key]["verified"] is True
    for path in out.rglob("*"):
        if path.is_file():
            assert FAKE_SECRET not in path.read_text(errors="replace")


@pytest.mark.integration
def test_default_style_run_on_moto_writes_results_and_meta(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = memharness(
        "run",
        "--sizes",
        "2MB",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["strategy"] for r in results) == [
        "chunked",
        "range",
        "read-all",
        "readinto",
        "textract-direct",
        "transfer-manager",
    ]
    required = {
        "strategy",
        "size_bytes",
        "status",
        "peak_rss_bytes",
        "baseline_rss_bytes",
        "sampled_peak_rss_bytes",
        "wall_s",
        "throughput_mb_s",
        "bytes_fetched",
        "verified",
        "temp_files_left",
        "process",
        "error",
    }
    assert all(required <= set(r) for r in results)
    assert all(r["status"] == "ok" and r["size_bytes"] == 2 * 10**6 for r in results)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["backend"] == "moto" and meta["cpu_count"] and meta["total_memory_bytes"]
    assert meta["packages"]["boto3"] and meta["packages"]["moto"] and meta["packages"]["pymupdf"]
    assert "peak MB" in proc.stdout and "read-all" in proc.stdout
