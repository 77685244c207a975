"""Bad input and hostile data: one clear line, a non-zero exit, earlier results kept.

The list with each outcome is docs/bad-input.md; tests/test_cli.py covers the usage errors of
``run`` itself.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memharness_s3.execution.local.runner import run_case
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import Backend
from memharness_s3.s3.backends.moto_server import free_port
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import make_client
from tests.support.cli import CREDENTIALS, FAKE_SECRET, endpoint_run, memharness, one_line_error
from tests.support.services import BUCKET, planned, serving


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--concurrency", "0"], "concurrency 0 is not a worker count"),
        (["run", "--concurrency", "1,x"], "malformed --concurrency"),
        (["run", "--repeat", "0"], "--repeat must be a positive integer, got 0"),
        (["run", "--pool", "greenlets"], "unknown pool 'greenlets'"),
        (["run", "--memory-limit", "lots"], "malformed size 'lots'"),
        (["run", "--memory-limit", "40MB"], "below a worker's baseline"),
    ],
)
def test_more_bad_usage_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    proc = memharness(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in one_line_error(proc)


def _garbage_results(folder: Path) -> Path:
    folder.mkdir()
    (folder / "results.jsonl").write_text('{"strategy": "chunked"}\nthis is not json\n')
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["gate", "--budget", "512MB"],
        ["export", "--format", "pytest-benchmark", "-o", "-"],
    ],
)
def test_a_results_file_that_is_not_json_lines_is_one_line_and_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    folder = _garbage_results(tmp_path / "results")
    proc = memharness(command[0], str(folder), *command[1:], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "results.jsonl:" in one_line_error(proc)


def test_resume_of_a_results_file_that_is_not_json_lines_is_exit_2(tmp_path: Path) -> None:
    folder = _garbage_results(tmp_path / "results")
    (folder / "meta.json").write_text(json.dumps({"settings": {"sizes": []}}))
    proc = memharness("run", "--resume", str(folder), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture()
def not_s3(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP file server on loopback: reachable, but not S3."""
    port = free_port()
    with serving(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        tmp_path / "http-server.log",
        cwd=tmp_path,
    ) as url:
        yield url


def test_a_non_s3_endpoint_is_one_line_and_exit_1(not_s3: str, tmp_path: Path) -> None:
    proc = memharness(
        "run",
        "--backend",
        "endpoint",
        "--endpoint-url",
        not_s3,
        "--sizes",
        "64KiB",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=CREDENTIALS,
    )
    assert proc.returncode == 1
    assert "is it an S3 endpoint?" in one_line_error(proc)


@pytest.mark.integration
def test_a_corrupt_pdf_fails_the_pages_step(
    moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    source = uploaded(2 * 10**6)
    truncated = source.path.read_bytes()[: source.size_bytes * 6 // 10]
    make_client(moto_backend).put_object(Bucket=BUCKET, Key="bad/truncated.pdf", Body=truncated)
    proc, out = endpoint_run(
        moto_backend,
        tmp_path,
        "--bucket",
        BUCKET,
        "--key",
        "bad/truncated.pdf",
        "--strategies",
        "chunked,read-all",
        "--process",
        "pages",
    )
    assert proc.returncode == 1
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines] == ["error", "error"]
    assert all(x["error_type"] == "DamagedPdf" for x in lines)
    assert all(x["temp_files_left"] == 0 for x in lines)


@pytest.fixture()
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted as the temp dir (needs root, as in CI)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.integration
def test_a_disk_that_fills_during_the_download_is_an_error_and_nothing_is_left(
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tiny_tmpfs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tiny_tmpfs))
    out = tmp_path / "out"
    out.mkdir()
    writer = ResultsWriter(out)
    (full,) = run_case(planned(uploaded(10 * 10**6), "chunked"), moto_backend, writer, 120)
    (fits,) = run_case(planned(uploaded(2 * 10**6), "chunked"), moto_backend, writer, 120)
    assert full.status == "error" and "No space left on device" in (full.error or "")
    assert fits.status == "ok" and fits.verified is True
    assert os.listdir(tiny_tmpfs) == []
    assert len((out / "results.jsonl").read_text().splitlines()) == 2


def test_the_harness_temp_dirs_are_private(
    moto_backend: Backend,
    uploaded: Callable[[int], Fixture],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    real_rmtree = shutil.rmtree

    def spy(path: str, *args: object, **kwargs: object) -> None:
        if Path(path).name.startswith("memharness-") or Path(path).parent.name == ".work":
            seen.append(stat.S_IMODE(os.stat(path).st_mode))
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", spy)
    (result,) = run_case(
        planned(uploaded(2 * 10**6), "chunked"), moto_backend, ResultsWriter(tmp_path), 120
    )
    assert result.status == "ok"
    assert seen == [0o700, 0o700]


@pytest.mark.integration
@pytest.mark.parametrize(
    "key",
    [
        "odd keys/with spaces.pdf",
        "unicodé/ключ-文件.pdf",
        "../escape/../up.pdf",
        "<script>alert(1)</script>.pdf",
    ],
)
def test_hostile_object_keys_round_trip(
    key: str, moto_backend: Backend, uploaded: Callable[[int], Fixture], tmp_path: Path
) -> None:
    source = uploaded(2 * 10**6)
    make_client(moto_backend).upload_file(
        str(source.path),
        BUCKET,
        key,
        ExtraArgs={"Metadata": {"sha256": source.sha256, "pages": str(source.pages)}},
    )
    proc, out = endpoint_run(
        moto_backend,
        tmp_path,
        "--bucket",
        BUCKET,
        "--key",
        key,
        "--strategies",
        "chunked,range,transfer-manager",
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {x["object_key"] for x in lines} == {key}
    assert all(x["status"] == "ok" and x["verified"] is True for x in lines)
    html = (out / "index.html").read_text()
    assert "<script>alert" not in html
    assert not (tmp_path / "escape").exists() and not (tmp_path / "up.pdf").exists()
    for path in out.rglob("*"):
        if path.is_file() and path.suffix != ".png":
            assert FAKE_SECRET not in path.read_text(errors="replace")
